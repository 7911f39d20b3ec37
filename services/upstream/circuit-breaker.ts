import type { CircuitState } from '../metrics/types.ts'

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number
  /** How long an open circuit refuses requests before letting one probe through, ms. */
  resetTimeout: number
  /** How long a half-open probe may stay unanswered before another may go (it was abandoned), ms. */
  probeTimeout: number
}

export type StateListener = (from: CircuitState, to: CircuitState) => void

/**
 * One target's breaker: closed → open after `failureThreshold` consecutive failures; open refuses
 * everything until `resetTimeout` has passed; then half-open lets ONE probe through at a time;
 * the probe's success closes the circuit, its failure opens it again for another `resetTimeout`.
 *
 * A plain state machine on numbers (no timers, no promises): it is asked `canPass(now)` for every
 * request, so it must cost nothing. Time is passed in, so tests drive it without a clock.
 * `canPass` has no side effects; the caller that actually sends calls `onPass`, so a balancer can
 * look at every target and commit only to the one it picks.
 */
export class CircuitBreaker {
  state: CircuitState = 'closed'
  failures = 0
  /** When the circuit last opened (ms); meaningful while open. */
  openedAt = 0
  private probeSince = -1

  constructor (private readonly options: CircuitBreakerOptions, private readonly onChange: StateListener = () => {}) {}

  canPass (now: number): boolean {
    if (this.state === 'closed') return true
    if (this.state === 'open') return now - this.openedAt >= this.options.resetTimeout
    return this.probeSince < 0 || now - this.probeSince >= this.options.probeTimeout
  }

  /** The request is going out: an open circuit whose reset time has passed becomes half-open, and this is its probe. */
  onPass (now: number): void {
    if (this.state === 'closed') return
    if (this.state === 'open') this.transition('half-open')
    this.probeSince = now
  }

  onSuccess (): void {
    this.failures = 0
    if (this.state !== 'closed') {
      this.probeSince = -1
      this.transition('closed')
    }
  }

  onFailure (now: number): void {
    this.failures++
    if (this.state === 'half-open' || (this.state === 'closed' && this.failures >= this.options.failureThreshold)) {
      this.openedAt = now
      this.probeSince = -1
      this.transition('open')
    }
  }

  /** The request ended without a verdict (client went away, our own error): frees the probe slot. */
  onAbandon (): void {
    if (this.state === 'half-open') this.probeSince = -1
  }

  /** Ms until an open circuit lets a probe through (0 when it would now). */
  retryIn (now: number): number {
    if (this.state !== 'open') return 0
    return Math.max(0, this.openedAt + this.options.resetTimeout - now)
  }

  private transition (to: CircuitState): void {
    const from = this.state
    this.state = to
    this.onChange(from, to)
  }
}

/** A breaker that never opens: `circuitBreaker: false`. */
export const DISABLED_BREAKER: CircuitBreakerOptions = { failureThreshold: Infinity, resetTimeout: 0, probeTimeout: 0 }
