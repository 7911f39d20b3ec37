import type { CircuitState } from '../metrics/types.ts'
import { CircuitBreaker, DISABLED_BREAKER, type CircuitBreakerOptions } from './circuit-breaker.ts'
import { DEFAULT_RETRY_BUDGET, RetryBudget, type RetryBudgetOptions } from './retry-policy.ts'

export type BalanceStrategy = 'round-robin' | 'least-connections'

/** The pino-shaped logger the upstream side reports to (kept minimal: services/ imports no Fastify). */
export interface UpstreamLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** One upstream address of a service, with what the balancer knows about it. */
export class Target {
  /** Requests sent to it that have not had response headers (or an error) yet. */
  active = 0
  /** Active health checks' verdict; true until probes say otherwise (and when none run). */
  healthy = true
  /** Active health check bookkeeping. */
  probeSuccesses = 0
  probeFailures = 0
  probing = false
  lastProbeError: string | undefined = undefined
  /** Registry targets: when the last heartbeat runs out (ms since epoch); 0 for configured ones. */
  expiresAt = 0
  readonly breaker: CircuitBreaker

  constructor (readonly url: string, readonly source: 'config' | 'registry', breaker: CircuitBreakerOptions, onState: (target: Target, from: CircuitState, to: CircuitState) => void) {
    this.breaker = new CircuitBreaker(breaker, (from, to) => onState(this, from, to))
  }
}

export interface TargetPoolOptions {
  service: string
  urls: string[]
  balance: BalanceStrategy
  /** null = `circuitBreaker: false`. */
  circuitBreaker: CircuitBreakerOptions | null
  retryBudget?: RetryBudgetOptions
  log: UpstreamLogger
}

export interface TargetSnapshot {
  url: string
  source: 'config' | 'registry'
  healthy: boolean
  circuit: CircuitState
  consecutiveFailures: number
  active: number
  expiresAt?: string
  lastProbeError?: string
}

/** Why no target could take a request: every circuit open (retry in N ms) or none usable at all. */
export interface NoTarget { retryAfterMs: number | undefined }

/**
 * The targets of one service and the choice among them. `pick` is on every proxied request's
 * path, so it is a loop over a small array with no allocation: a target is eligible when its
 * active health check says healthy and its breaker lets a request pass (an open breaker is the
 * passive ejection: it readmits the target through a half-open probe after `resetTimeout`).
 * Round robin rotates a cursor; least-connections takes the eligible target with the fewest
 * requests awaiting headers, ties broken by the same rotation.
 */
export class TargetPool {
  readonly service: string
  targets: Target[] = []
  readonly budget: RetryBudget
  private cursor = 0
  private readonly leastConnections: boolean
  private readonly breakerOptions: CircuitBreakerOptions
  private readonly log: UpstreamLogger
  private readonly onState: (target: Target, from: CircuitState, to: CircuitState) => void

  constructor (options: TargetPoolOptions) {
    this.service = options.service
    this.leastConnections = options.balance === 'least-connections'
    this.breakerOptions = options.circuitBreaker ?? DISABLED_BREAKER
    this.budget = new RetryBudget(options.retryBudget ?? DEFAULT_RETRY_BUDGET)
    this.log = options.log
    this.onState = (target, from, to) => {
      const fields = { service: this.service, target: target.url, from, to, consecutiveFailures: target.breaker.failures }
      if (to === 'open') this.log.warn(fields, `circuit of ${this.service} target ${target.url} opened`)
      else this.log.info(fields, `circuit of ${this.service} target ${target.url} ${to === 'closed' ? 'closed' : 'half-open: probing'}`)
    }
    for (const url of options.urls) this.targets.push(new Target(url, 'config', this.breakerOptions, this.onState))
  }

  /**
   * The target for the next request, committed (a half-open breaker counts it as its probe), or
   * null when none can take it. `exclude` (the target that just failed) is skipped.
   */
  pick (now: number, exclude: Target | null = null): Target | null {
    const targets = this.targets
    const n = targets.length
    let chosen: Target | null = null
    let chosenAt = 0
    for (let i = 0; i < n; i++) {
      const at = (this.cursor + i) % n
      const t = targets[at]
      if (t === exclude || !t.healthy || !t.breaker.canPass(now)) continue
      if (!this.leastConnections) { chosen = t; chosenAt = at; break }
      if (chosen === null || t.active < chosen.active) { chosen = t; chosenAt = at }
    }
    if (chosen === null) return null
    this.cursor = chosenAt + 1
    chosen.breaker.onPass(now)
    return chosen
  }

  /** Why `pick` found nothing: open circuits say when one will probe again. */
  noTarget (now: number): NoTarget {
    let soonest = Infinity
    for (const t of this.targets) {
      if (t.healthy && t.breaker.state === 'open') soonest = Math.min(soonest, t.breaker.retryIn(now))
    }
    return { retryAfterMs: soonest === Infinity ? undefined : soonest }
  }

  /** Response headers arrived: 502/503/504 count against the target, anything else for it. */
  onResponse (target: Target, status: number, now: number): void {
    if (status === 502 || status === 503 || status === 504) target.breaker.onFailure(now)
    else target.breaker.onSuccess()
  }

  onFailure (target: Target, now: number): void {
    target.breaker.onFailure(now)
  }

  /** The request ended with no verdict on the target (the client left, our own error). */
  onAbandon (target: Target): void {
    target.breaker.onAbandon()
  }

  /**
   * Replaces the registry's targets with `entries` (configured targets stay). A target that stays
   * keeps its breaker and health state; a new one starts healthy and closed.
   */
  setRegistered (entries: ReadonlyArray<{ url: string, expiresAt: number }>): void {
    const existing = new Map(this.targets.map(t => [t.url, t]))
    const next: Target[] = this.targets.filter(t => t.source === 'config')
    const seen = new Set(next.map(t => t.url))
    const added: string[] = []
    for (const entry of entries) {
      if (seen.has(entry.url)) continue
      seen.add(entry.url)
      let target = existing.get(entry.url)
      if (target === undefined) {
        target = new Target(entry.url, 'registry', this.breakerOptions, this.onState)
        added.push(entry.url)
      }
      target.expiresAt = entry.expiresAt
      next.push(target)
    }
    const removed = this.targets.filter(t => !seen.has(t.url)).map(t => t.url)
    if (added.length > 0 || removed.length > 0) {
      this.log.info({ service: this.service, added, removed }, `registry targets of ${this.service} changed`)
    }
    this.targets = next
  }

  /** Adds or renews one registry target at once (the instance that received the heartbeat). */
  upsertRegistered (url: string, expiresAt: number): void {
    const entries = this.targets.filter(t => t.source === 'registry' && t.url !== url).map(t => ({ url: t.url, expiresAt: t.expiresAt }))
    entries.push({ url, expiresAt })
    this.setRegistered(entries)
  }

  /** The service's circuit as one word: open when no target's breaker lets requests through. */
  circuitState (): CircuitState {
    let open = 0
    let halfOpen = 0
    for (const t of this.targets) {
      if (t.breaker.state === 'open') open++
      else if (t.breaker.state === 'half-open') halfOpen++
    }
    if (this.targets.length > 0 && open === this.targets.length) return 'open'
    return open + halfOpen > 0 ? 'half-open' : 'closed'
  }

  /** Targets a request could go to right now. */
  available (now: number): number {
    let n = 0
    for (const t of this.targets) if (t.healthy && t.breaker.canPass(now)) n++
    return n
  }

  snapshot (): TargetSnapshot[] {
    return this.targets.map(t => ({
      url: t.url,
      source: t.source,
      healthy: t.healthy,
      circuit: t.breaker.state,
      consecutiveFailures: t.breaker.failures,
      active: t.active,
      ...(t.expiresAt > 0 ? { expiresAt: new Date(t.expiresAt).toISOString() } : {}),
      ...(t.lastProbeError !== undefined ? { lastProbeError: t.lastProbeError } : {})
    }))
  }
}
