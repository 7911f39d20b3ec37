/**
 * Where rate-limit state lives. One interface, two implementations: in-process memory (one
 * instance) and Redis (several instances enforce one shared limit). Each `hit` is one atomic
 * operation, so concurrent requests can never both take the last slot.
 */

/** `fixed-window`: a counter per window (Kong, @fastify/rate-limit). `gcra`: a smooth token bucket. */
export type RateLimitAlgorithm = 'fixed-window' | 'gcra'
export const RATE_LIMIT_ALGORITHMS: readonly RateLimitAlgorithm[] = ['fixed-window', 'gcra']

export interface RateLimitHit {
  /**
   * Requests counted against the limit, this one included: `current > max` means refused.
   * (For GCRA: `max - remaining`, and `max + 1` when refused.)
   */
  current: number
  /**
   * Milliseconds until the limit is fully available again (the window resets, or the bucket is
   * full); when refused, until the next request would be allowed (Retry-After).
   */
  ttl: number
}

export interface RateLimitStore {
  readonly algorithm: RateLimitAlgorithm
  /**
   * Counts one request of `key` against `max` per `windowMs`. Refused requests are not
   * counted, so a client that keeps hammering is let in again when the window allows it.
   * Rejects when the backing store is unreachable; the caller decides what failing means.
   */
  hit (key: string, windowMs: number, max: number): Promise<RateLimitHit>
  /** Releases what the store owns (memory; a Redis client stays its creator's). */
  close (): Promise<void>
}

/** A route's own rate limit (config file `rateLimit`); absent fields take the env defaults. */
export interface RouteRateLimit {
  max?: number
  /** ms */
  window?: number
  /** `user` | `ip` | `header:<name>` */
  key?: string
}
