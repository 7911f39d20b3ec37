import { execFileSync, fork, type ChildProcess } from 'node:child_process'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon, { type Result } from 'autocannon'
import type { ChildMessage, ParentMessage } from './cpu-probe.ts'
import type { BenchContext } from './scenario.ts'
import { parseDuration } from '../services/config/units.ts'

/** What the bench scripts (run.ts, ab.ts) share: their child processes and the load they send. */
export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
const CHILD_EXEC_ARGV = ['--import', 'tsx']
const START_TIMEOUT_MS = 60_000
const PROBE_TIMEOUT_MS = 10_000

/**
 * A child process speaking the cpu-probe protocol: started, asked for CPU time around each run,
 * asked for its report, closed. A child that exits unasked fails whatever was waiting on it.
 */
export class Probe {
  readonly child: ChildProcess
  ready: Extract<ChildMessage, { type: 'ready' }> | undefined
  private waiting: { type: ChildMessage['type'], resolve: (m: ChildMessage) => void, reject: (e: Error) => void, timer: NodeJS.Timeout }[] = []
  private exited: string | undefined

  constructor (readonly label: string, script: string, args: string[], env: Record<string, string>, execArgv: string[] = []) {
    this.child = fork(script, args, {
      execArgv: [...CHILD_EXEC_ARGV, ...execArgv],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    this.child.on('message', (m: ChildMessage) => {
      if (m.type === 'error') return this.fail(`setup failed: ${m.message}`)
      const i = this.waiting.findIndex(w => w.type === m.type)
      if (i === -1) return
      const [w] = this.waiting.splice(i, 1)
      clearTimeout(w.timer)
      w.resolve(m)
    })
    this.child.on('exit', (code, signal) => this.fail(`process exited (${signal ?? `code ${code}`})`))
    this.child.on('error', (err) => this.fail(err.message))
  }

  private fail (reason: string): void {
    this.exited ??= reason
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer)
      w.reject(new Error(`${this.label}: ${reason}`))
    }
  }

  request<T extends ChildMessage['type']> (message: ParentMessage | null, reply: T, timeout = PROBE_TIMEOUT_MS): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.exited) return Promise.reject(new Error(`${this.label}: ${this.exited}`))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = this.waiting.filter(w => w.timer !== timer)
        reject(new Error(`${this.label}: no '${reply}' answer within ${timeout} ms`))
      }, timeout)
      this.waiting.push({ type: reply, resolve: resolve as (m: ChildMessage) => void, reject, timer })
      if (message) this.child.send(message)
    })
  }

  async start (): Promise<this> {
    this.ready = await this.request(null, 'ready', START_TIMEOUT_MS)
    return this
  }

  cpuStart (): void {
    if (!this.exited) this.child.send({ type: 'cpu-start' } satisfies ParentMessage)
  }

  async cpuStop (): Promise<number> {
    return (await this.request({ type: 'cpu-stop' }, 'cpu')).micros
  }

  async close (): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    await this.request({ type: 'close' }, 'closed').catch(() => {})
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 5000).unref()
    await exited
    clearTimeout(kill)
  }
}

export function load (url: string, ready: NonNullable<Probe['ready']>, connections: number, duration: number): Promise<Result> {
  const instance = autocannon({
    url: new URL(ready.path ?? '/bench', url).href,
    method: ready.method ?? 'GET',
    headers: ready.headers,
    body: ready.body,
    connections,
    duration,
    pipelining: 1,
    timeout: 10
  })
  return Promise.resolve(instance)
}

/** Responses that count as successes: 2xx, or the status a scenario expects (an open circuit's 503). */
export function successes (result: Result, ready: NonNullable<Probe['ready']>): number {
  return ready.expectStatus === undefined ? result['2xx'] : result.statusCodeStats[ready.expectStatus]?.count ?? 0
}

export function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

// A bare number is seconds here (autocannon's unit); `500ms`, `10s`, `1m` work as in the env schema.
export function seconds (name: string, raw: string, fail: (message: string) => never, min = 1): number {
  const value = /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : parseDuration(raw) / 1000
  if (!Number.isFinite(value) || value < min) fail(`${name}: expected a duration of at least ${min}s like 5s or 500ms, got ${JSON.stringify(raw)}`)
  return value
}

export function integer (name: string, raw: string, fail: (message: string) => never): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || value < 1) fail(`${name}: expected a positive integer, got ${JSON.stringify(raw)}`)
  return value
}

/** Why `--pin` cannot work here (it needs Linux, two CPUs and taskset), or null when it can. */
export function pinUnavailable (): string | null {
  if (process.platform !== 'linux') return '--pin: Linux only (it uses taskset)'
  if (cpus().length < 2) return '--pin needs at least two CPUs'
  try {
    execFileSync('taskset', ['--version'], { stdio: 'ignore' })
  } catch {
    return '--pin needs taskset (util-linux)'
  }
  return null
}

export interface PinSplit { target: string, load: string }

/**
 * `--pin`: the targets on CPU 0, the load generator and the upstream on the others (Linux,
 * taskset), so the gateway under test has a core of its own, as it would in production, instead
 * of sharing both with the load and any local database.
 */
export function pinSplit (fail: (message: string) => never): PinSplit {
  const reason = pinUnavailable()
  if (reason !== null) fail(reason)
  const n = cpus().length
  return { target: '0', load: n === 2 ? '1' : `1-${n - 1}` }
}

/** The run's header line: where `--pin` put things, or nothing. */
export function describePin (split: PinSplit | null): string {
  return split === null ? '' : `, targets pinned to CPU ${split.target}, load and upstream to CPUs ${split.load}`
}

/** Every thread of a process, and those it starts later, onto the given CPUs. */
export function pin (pid: number, cpuList: string): void {
  execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', cpuList, String(pid)], { stdio: 'ignore' })
}

/**
 * The shared upstream, and the context scenarios set up their targets with. Pinned first (this
 * process onto the load CPUs), so the upstream and every target forked later start there too.
 */
export async function startUpstream (split: PinSplit | null): Promise<{ upstream: Probe, ctx: BenchContext }> {
  if (split !== null) pin(process.pid, split.load)
  const upstream = await new Probe('upstream', join(BENCH_DIR, 'upstream.ts'), [], {}).start()
  const ctx: BenchContext = { upstreamUrl: upstream.ready!.url, redisUrl: process.env.REDIS_URL || undefined, databaseUrl: process.env.DATABASE_URL || undefined }
  return { upstream, ctx }
}
