/**
 * When and how long before a retry. Retries multiply load on an upstream that is already failing,
 * so two limits apply: exponential backoff with full jitter between attempts (AWS's "full jitter":
 * spreads retries of many clients instead of synchronising them), and a retry budget per service
 * (Finagle/Envoy idea) that keeps retries under a share of the traffic, so a dead upstream costs at
 * most +20% requests, never ×(retries+1).
 */

export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])

export const DEFAULT_BACKOFF_BASE_MS = 25
export const DEFAULT_BACKOFF_CAP_MS = 250

/** Delay before retry number `attempt` (1 = first retry): uniform in [0, min(cap, base·2^(attempt-1))]. */
export function backoffDelay (attempt: number, baseMs = DEFAULT_BACKOFF_BASE_MS, capMs = DEFAULT_BACKOFF_CAP_MS, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1))
  return Math.round(random() * ceiling)
}

export interface RetryBudgetOptions {
  /** Retries allowed as a share of requests over the window (0.2 = 20%). */
  ratio: number
  /** Retries always allowed per window, so a quiet service can still retry at all. */
  minRetries: number
  /** Window length in seconds, kept as one counter pair per second. */
  windowSeconds: number
}

export const DEFAULT_RETRY_BUDGET: RetryBudgetOptions = { ratio: 0.2, minRetries: 10, windowSeconds: 10 }

/**
 * Sliding window of per-second counters (no timers: slots are recycled as time moves on).
 * `tryRetry` allows a retry while retries in the window stay within
 * max(minRetries, ratio × requests).
 */
export class RetryBudget {
  private readonly requests: Int32Array
  private readonly retries: Int32Array
  private readonly seconds: Float64Array
  private totalRequests = 0
  private totalRetries = 0

  constructor (private readonly options: RetryBudgetOptions = DEFAULT_RETRY_BUDGET) {
    const n = options.windowSeconds
    this.requests = new Int32Array(n)
    this.retries = new Int32Array(n)
    this.seconds = new Float64Array(n).fill(-1)
  }

  /** Counts one original request (not a retry). */
  onRequest (nowMs: number): void {
    this.requests[this.slot(nowMs)]++
    this.totalRequests++
  }

  /** True (and counted) when one more retry fits in the budget. */
  tryRetry (nowMs: number): boolean {
    const slot = this.slot(nowMs)
    let requests = 0
    let retries = 0
    const oldest = Math.floor(nowMs / 1000) - this.options.windowSeconds
    for (let i = 0; i < this.seconds.length; i++) {
      if (this.seconds[i] > oldest) {
        requests += this.requests[i]
        retries += this.retries[i]
      }
    }
    if (retries + 1 > Math.max(this.options.minRetries, this.options.ratio * requests)) return false
    this.retries[slot]++
    this.totalRetries++
    return true
  }

  /** Totals since start (for admin and tests). */
  totals (): { requests: number, retries: number } {
    return { requests: this.totalRequests, retries: this.totalRetries }
  }

  private slot (nowMs: number): number {
    const second = Math.floor(nowMs / 1000)
    const slot = second % this.seconds.length
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second
      this.requests[slot] = 0
      this.retries[slot] = 0
    }
    return slot
  }
}

// Failures where the upstream produced no response byte: it refused or dropped the connection,
// or could not be reached. A timeout is not one (the upstream may still be working on it).
const CONNECTION_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'])

/** True when `error` (or one of its causes) is a connection failure before any response byte. */
export function isConnectionFailure (error: unknown): boolean {
  for (let err = error as (Error & { code?: string }) | undefined, depth = 0; err && depth < 5; err = err.cause as typeof err, depth++) {
    if (err.code !== undefined && CONNECTION_FAILURES.has(err.code)) return true
  }
  return false
}
