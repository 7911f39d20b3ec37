/**
 * One thing `npm run bench` measures. The harness (bench/run.ts) starts a shared local upstream,
 * runs each scenario's `setup` in a child process of its own (so the load generator never shares
 * a core with the gateway it measures), drives it with autocannon in interleaved rounds, and
 * prints req/s, p50, p99 and the ratio to `baseline`.
 */
export interface BenchTarget {
  /** Base URL the load goes to, e.g. http://127.0.0.1:40123 */
  url: string
  /** Request to send; defaults GET /bench */
  path?: string
  method?: string
  headers?: Record<string, string>
  body?: string
  /** The status every answer should have when it is not 2xx (a fast-fail 503 scenario); counted as success. */
  expectStatus?: number
  /**
   * Optional figures the scenario wants printed after the run (cache hits, rows written,
   * queue drops ...). Called once, in the target's process, after its last round.
   */
  report? (): Promise<Record<string, number>>
  /**
   * CPU time (user + system, µs) used so far by the process that serves the load, when that is
   * not the target's own process (a gateway the scenario spawned). Without it the probe charges
   * its own process, which for a spawning scenario is an idle wrapper.
   */
  cpuMicros? (): number
  close (): Promise<void>
}

export interface BenchContext {
  /** The shared upstream (answers any path with a ~100 byte JSON body). */
  upstreamUrl: string
  redisUrl?: string
  databaseUrl?: string
}

export interface BenchScenario {
  name: string
  description: string
  /** Name of the scenario this one is divided by for its ratio (e.g. 'portico-plain'). */
  baseline?: string
  /** The ratio the issue asks for; printed beside the measured one. */
  target?: number
  setup (ctx: BenchContext): Promise<BenchTarget>
}
