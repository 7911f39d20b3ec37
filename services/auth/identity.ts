/**
 * Who a request comes from, once verified. Set on `request.identity` by the auth plugin (null when
 * anonymous); read by rate limiting (key, tier), the cache (per-user keys), tracking and metrics.
 * `via: 'header'` marks the unverified identity of RATE_LIMIT_TRUST_HEADERS, used only for limits.
 */
export interface Identity {
  id: string
  email?: string
  scopes: string[]
  tier: string
  via: 'jwt' | 'remote' | 'session' | 'header'
}

/** Tier of a request without an identity. */
export const ANONYMOUS_TIER = 'anonymous'
/** Tier of an identity that carries none. */
export const DEFAULT_TIER = 'default'
