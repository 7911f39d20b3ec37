/**
 * GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): `max` requests may
 * come at once, then one more every `windowMs / max`. State is the theoretical arrival time (TAT)
 * of the next request, in integer microseconds, so the arithmetic is exact: a burst of `max`
 * simultaneous requests lets exactly `max` through. The Redis script in redis-store.ts is this
 * same function in Lua; keep the two in step.
 */
import type { RateLimitHit } from './types.ts'

export interface GcraStep {
  hit: RateLimitHit
  /** The TAT to store (µs), or null when the request is refused (nothing changes). */
  tat: number | null
}

/** `now` and `storedTat` in µs; `storedTat` null when the client has no state. */
export function gcra (now: number, storedTat: number | null, windowMs: number, max: number): GcraStep {
  const interval = emissionInterval(windowMs, max)
  const burst = interval * max
  const tat = storedTat === null || storedTat < now ? now : storedTat
  const newTat = tat + interval
  const allowAt = newTat - burst
  if (now < allowAt) {
    return { hit: { current: max + 1, ttl: Math.ceil((allowAt - now) / 1000) }, tat: null }
  }
  const remaining = Math.floor((burst - (newTat - now)) / interval)
  return { hit: { current: max - remaining, ttl: Math.ceil((newTat - now) / 1000) }, tat: newTat }
}

/** µs between two requests at the steady rate; at least 1 µs. */
export function emissionInterval (windowMs: number, max: number): number {
  return Math.max(1, Math.floor((windowMs * 1000) / max))
}
