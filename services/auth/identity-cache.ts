import type { Identity } from './identity.ts'

export const DEFAULT_IDENTITY_CACHE_ENTRIES = 10_000
/** Tokens longer than this are verified every time rather than held as cache keys. */
export const MAX_CACHED_TOKEN_LENGTH = 2048

interface Entry { identity: Identity, expiresAt: number }

/**
 * Verified tokens → their identity, so a token seen again skips signature checking and claim
 * parsing (PERFORMANCE.md's verified-token cache, ~100 µs of HS256/RS256 work per hit saved).
 * Each entry expires at the token's own `exp` (or sooner, `maxTtl`), so expiry is still
 * honoured to the millisecond. Keyed by the token itself: no hash to compute, no collision
 * possible. Bounded by count and key length, oldest-inserted evicted first; no timer runs.
 */
export class IdentityCache {
  private readonly entries = new Map<string, Entry>()

  constructor (private readonly maxTtl: number, private readonly maxEntries = DEFAULT_IDENTITY_CACHE_ENTRIES) {}

  get (token: string, now: number): Identity | undefined {
    const entry = this.entries.get(token)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.entries.delete(token)
      return undefined
    }
    return entry.identity
  }

  /** `exp` in seconds since the epoch (the JWT claim), when the token has one. */
  set (token: string, identity: Identity, now: number, exp?: number): void {
    if (token.length > MAX_CACHED_TOKEN_LENGTH || this.maxEntries === 0) return
    let expiresAt = now + this.maxTtl
    if (typeof exp === 'number') expiresAt = Math.min(expiresAt, exp * 1000)
    if (expiresAt <= now) return
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string)
    this.entries.set(token, { identity, expiresAt })
  }

  get size (): number { return this.entries.size }

  clear (): void { this.entries.clear() }
}
