import { request, type Dispatcher } from 'undici'
import type { Target, TargetPool, UpstreamLogger } from './target-pool.ts'

export interface ActiveHealthOptions {
  path: string
  /** Time between two rounds of probes, ms. */
  interval: number
  /** A probe that has not answered within this is a failure, ms. */
  timeout: number
  /** Consecutive successful probes that make an unhealthy target healthy again. */
  healthyThreshold: number
  /** Consecutive failed probes that take a target out of the rotation. */
  unhealthyThreshold: number
}

/**
 * Probes every target of one service in the background: GET <target><path>, 2xx = success.
 * Rounds are chained with setTimeout (never setInterval), so a slow round delays the next one
 * instead of piling probes up; a target whose probe is still out is skipped. The timer is
 * unref'd and `stop()` clears it. Probes go through their own dispatcher so they never queue
 * behind proxied traffic. Readiness and /health read the verdicts; nothing waits on a probe.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined
  private stopped = true
  private round: Promise<void> | undefined

  constructor (
    private readonly pool: TargetPool,
    private readonly options: ActiveHealthOptions,
    private readonly dispatcher: Dispatcher,
    private readonly log: UpstreamLogger
  ) {}

  start (): void {
    if (!this.stopped) return
    this.stopped = false
    this.schedule(0)
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
    await this.round
  }

  /** One round of probes now (also what the timer runs). */
  async probeAll (): Promise<void> {
    await Promise.all(this.pool.targets.map(t => t.probing ? undefined : this.probe(t)))
  }

  private schedule (delay: number): void {
    this.timer = setTimeout(() => {
      this.round = this.probeAll().finally(() => {
        this.round = undefined
        if (!this.stopped) this.schedule(this.options.interval)
      })
    }, delay)
    this.timer.unref()
  }

  private async probe (target: Target): Promise<void> {
    target.probing = true
    let error: string | undefined
    try {
      const res = await request(target.url + this.options.path, {
        method: 'GET',
        dispatcher: this.dispatcher,
        headers: { 'user-agent': 'portico-health-check' },
        signal: AbortSignal.timeout(this.options.timeout)
      })
      await res.body.dump()
      if (res.statusCode < 200 || res.statusCode > 299) error = `${this.options.path} answered ${res.statusCode}`
    } catch (err) {
      const e = err as Error & { code?: string, name?: string }
      error = e.name === 'TimeoutError' ? `no answer within ${this.options.timeout}ms` : (e.code ?? e.message)
    } finally {
      target.probing = false
    }
    this.record(target, error)
  }

  private record (target: Target, error: string | undefined): void {
    if (error === undefined) {
      target.probeFailures = 0
      target.probeSuccesses++
      target.lastProbeError = undefined
      if (!target.healthy && target.probeSuccesses >= this.options.healthyThreshold) {
        target.healthy = true
        this.log.info({ service: this.pool.service, target: target.url }, `${this.pool.service} target ${target.url} is healthy again`)
      }
    } else {
      target.probeSuccesses = 0
      target.probeFailures++
      target.lastProbeError = error
      if (target.healthy && target.probeFailures >= this.options.unhealthyThreshold) {
        target.healthy = false
        this.log.warn({ service: this.pool.service, target: target.url, error }, `${this.pool.service} target ${target.url} is unhealthy: ${error}`)
      }
    }
  }
}
