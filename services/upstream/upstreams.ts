import { Agent, request, type Dispatcher } from 'undici'
import type { ServiceConfig } from '../config/load-config.ts'
import type { CircuitState } from '../metrics/types.ts'
import { HealthChecker } from './health-checker.ts'
import type { TargetRegistryStore } from './registry-store.ts'
import { TargetPool, type TargetSnapshot, type UpstreamLogger } from './target-pool.ts'

export interface UpstreamsOptions {
  services: ServiceConfig[]
  registry: TargetRegistryStore
  /** How often each instance re-reads the registry, ms. */
  registryRefreshInterval: number
  /** Default upstream timeout, ms: bounds how long a half-open probe may stay unanswered. */
  upstreamTimeout: number
  log: UpstreamLogger
  /** Told once per registry outage (and again after it recovers and fails anew). */
  onRegistryError?: (err: Error) => void
}

export interface ServiceSnapshot {
  name: string
  balance: string
  retries: number
  circuit: CircuitState
  activeHealthChecks: boolean
  targets: TargetSnapshot[]
}

const PROBE_CONNECTIONS = 2
const READINESS_PROBE_TIMEOUT_MS = 1500

/**
 * Every service's target pool, their active health checkers and the registry refresh loop.
 * Built once at start-up by the upstream plugin; the proxy asks it for a service's pool once
 * per route. `start()` begins the background work, `close()` ends all of it.
 */
export class Upstreams {
  readonly pools = new Map<string, TargetPool>()
  private readonly services = new Map<string, ServiceConfig>()
  private readonly checkers: HealthChecker[] = []
  private readonly probeAgent: Agent
  private refreshTimer: NodeJS.Timeout | undefined
  private refreshing: Promise<void> | undefined
  private closed = false
  private registryDown = false

  constructor (private readonly options: UpstreamsOptions) {
    this.probeAgent = new Agent({ connections: PROBE_CONNECTIONS, keepAliveTimeout: 10_000 })
    for (const service of options.services) {
      const breaker = service.circuitBreaker === false
        ? null
        : { ...service.circuitBreaker, probeTimeout: Math.max(service.timeout ?? options.upstreamTimeout, service.circuitBreaker.resetTimeout) + 1000 }
      const pool = new TargetPool({ service: service.name, urls: service.urls, balance: service.balance, circuitBreaker: breaker, log: options.log })
      this.pools.set(service.name, pool)
      this.services.set(service.name, service)
      const health = service.health
      if (health?.interval !== undefined) {
        this.checkers.push(new HealthChecker(pool, { ...health, interval: health.interval }, this.probeAgent, options.log))
      }
    }
  }

  pool (service: string): TargetPool {
    const pool = this.pools.get(service)
    if (pool === undefined) throw new Error(`unknown service ${service}`)
    return pool
  }

  has (service: string): boolean {
    return this.pools.has(service)
  }

  async start (): Promise<void> {
    await this.refresh()
    for (const checker of this.checkers) checker.start()
    this.scheduleRefresh()
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.refreshTimer)
    await Promise.all([...this.checkers.map(c => c.stop()), this.refreshing])
    await this.probeAgent.close()
  }

  /** Registers or renews a target; this instance routes to it at once, others at their next refresh. */
  async heartbeat (service: string, url: string, ttlMs: number): Promise<{ expiresAt: number, isNew: boolean }> {
    const pool = this.pool(service)
    const expiresAt = await this.options.registry.heartbeat(service, url, ttlMs)
    const isNew = !pool.targets.some(t => t.url === url)
    pool.upsertRegistered(url, expiresAt)
    return { expiresAt, isNew }
  }

  async deregister (service: string, url: string): Promise<boolean> {
    const pool = this.pool(service)
    const removed = await this.options.registry.remove(service, url)
    pool.setRegistered(pool.targets.filter(t => t.source === 'registry' && t.url !== url))
    return removed
  }

  /** Re-reads every service's registry targets; on a store outage the last known list stays. */
  async refresh (): Promise<void> {
    try {
      const lists = await Promise.all([...this.pools.keys()].map(name => this.options.registry.list(name)))
      let i = 0
      for (const pool of this.pools.values()) pool.setRegistered(lists[i++])
      this.registryDown = false
    } catch (err) {
      if (!this.registryDown) {
        this.registryDown = true
        this.options.log.warn({ err }, 'service registry unreachable: keeping the last known targets')
        this.options.onRegistryError?.(err as Error)
      }
    }
  }

  /**
   * Readiness of one service: up when at least one target can take requests. With active checks
   * the verdicts are read as they stand; without them each target is asked now (any answer at
   * its base URL, or 2xx at `health.path`). Resolves (or rejects with `detail`) per target.
   */
  async readiness (service: string): Promise<{ targets: Array<TargetSnapshot & { error?: string }> }> {
    const pool = this.pool(service)
    const config = this.services.get(service)!
    const snapshot: Array<TargetSnapshot & { error?: string }> = pool.snapshot()
    const now = performance.now()
    if (config.health?.interval === undefined) {
      await Promise.all(pool.targets.map(async (t, i) => {
        try {
          await probeOnce(this.probeAgent, t.url, config.health?.path)
        } catch (err) {
          snapshot[i].healthy = false
          snapshot[i].error = (err as Error & { code?: string }).code ?? (err as Error).message
        }
      }))
    }
    const usable = pool.targets.filter((t, i) => snapshot[i].healthy && t.breaker.canPass(now)).length
    if (usable === 0) {
      const why = (t: TargetSnapshot & { error?: string }) => t.circuit === 'open' ? 'circuit open' : (t.error ?? t.lastProbeError ?? 'unhealthy')
      const reason = pool.targets.length === 0
        ? 'no targets (configure urls or register one)'
        : pool.targets.length === 1
          ? why(snapshot[0])
          : `none of ${pool.targets.length} targets can take requests: ${snapshot.map(t => `${t.url} ${why(t)}`).join('; ')}`
      throw Object.assign(new Error(reason), { detail: { targets: snapshot } })
    }
    return { targets: snapshot }
  }

  /** For GET /health: from memory only, never waits. */
  summary (): Record<string, { status: 'up' | 'degraded' | 'down', targets: number, available: number, circuit: CircuitState }> {
    const now = performance.now()
    const out: Record<string, { status: 'up' | 'degraded' | 'down', targets: number, available: number, circuit: CircuitState }> = {}
    for (const [name, pool] of this.pools) {
      const available = pool.available(now)
      const total = pool.targets.length
      out[name] = { status: available === 0 ? 'down' : available < total ? 'degraded' : 'up', targets: total, available, circuit: pool.circuitState() }
    }
    return out
  }

  snapshot (): ServiceSnapshot[] {
    return [...this.pools.values()].map(pool => {
      const config = this.services.get(pool.service)!
      return {
        name: pool.service,
        balance: config.balance,
        retries: config.retries,
        circuit: pool.circuitState(),
        activeHealthChecks: config.health?.interval !== undefined,
        targets: pool.snapshot()
      }
    })
  }

  /** One word per service, as `/metrics` JSON shows it (see TargetPool.circuitState). */
  serviceCircuits (): Record<string, CircuitState> {
    const out: Record<string, CircuitState> = {}
    for (const [name, pool] of this.pools) out[name] = pool.circuitState()
    return out
  }

  circuits (): Array<{ service: string, target: string, state: CircuitState }> {
    const out: Array<{ service: string, target: string, state: CircuitState }> = []
    for (const pool of this.pools.values()) {
      for (const t of pool.targets) out.push({ service: pool.service, target: t.url, state: t.breaker.state })
    }
    return out
  }

  private scheduleRefresh (): void {
    if (this.closed) return
    this.refreshTimer = setTimeout(() => {
      this.refreshing = this.refresh().finally(() => {
        this.refreshing = undefined
        this.scheduleRefresh()
      })
    }, this.options.registryRefreshInterval)
    this.refreshTimer.unref()
  }
}

async function probeOnce (dispatcher: Dispatcher, url: string, path: string | undefined): Promise<void> {
  const res = await request(url + (path ?? '/'), {
    dispatcher,
    method: 'GET',
    headers: { 'user-agent': 'portico-readiness' },
    signal: AbortSignal.timeout(READINESS_PROBE_TIMEOUT_MS)
  })
  await res.body.dump()
  if (path !== undefined && (res.statusCode < 200 || res.statusCode > 299)) {
    throw new Error(`${path} answered ${res.statusCode}`)
  }
}
