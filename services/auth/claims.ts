import { DEFAULT_TIER, type Identity } from './identity.ts'
import { invalid } from './auth-failure.ts'

// Identity values travel to upstreams as header values: a control character there would make the
// upstream request fail (or split it), so such a value makes the credential invalid instead.
const UNSAFE_HEADER_VALUE = /[\x00-\x1f\x7f]/
const MAX_FIELD_LENGTH = 1024

/**
 * Identity from verified JWT claims (contract §4): `sub` → id, `email`, `scope` (space separated)
 * or `scopes` (array; both forms accepted in either claim), `tier`.
 */
export function identityFromClaims (claims: Record<string, unknown>, via: Identity['via']): Identity {
  return buildIdentity(claims.sub, claims.email, [claims.scope, claims.scopes], claims.tier, via, 'token has no subject (sub)')
}

/** Identity from the verify service's `{user_id, email, scopes, tier}`. */
export function identityFromVerifyResponse (body: Record<string, unknown>): Identity {
  return buildIdentity(body.user_id, body.email, [body.scopes, body.scope], body.tier, 'remote', 'verify response has no user_id')
}

/** Identity from a login response's `user` object `{id, email, scopes, tier}` (or a stored session). */
export function identityFromUser (user: Record<string, unknown>, via: Identity['via']): Identity {
  return buildIdentity(user.id, user.email, [user.scopes, user.scope], user.tier, via, 'user has no id')
}

function buildIdentity (rawId: unknown, rawEmail: unknown, rawScopes: unknown[], rawTier: unknown, via: Identity['via'], noId: string): Identity {
  const id = typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : rawId
  if (typeof id !== 'string' || id === '') throw invalid(noId)
  checkField(id, 'id')
  const identity: Identity = { id, scopes: scopesOf(rawScopes), tier: DEFAULT_TIER, via }
  if (typeof rawEmail === 'string' && rawEmail !== '') identity.email = checkField(rawEmail, 'email')
  if (typeof rawTier === 'string' && rawTier !== '') identity.tier = checkField(rawTier, 'tier')
  // Identities are cached and shared between requests: a mutation would leak across users.
  Object.freeze(identity.scopes)
  return Object.freeze(identity)
}

function scopesOf (sources: unknown[]): string[] {
  const out: string[] = []
  for (const source of sources) {
    const list: unknown[] = typeof source === 'string' ? [source] : Array.isArray(source) ? source : []
    for (const item of list) {
      if (typeof item !== 'string') continue
      // Scopes reach upstreams space separated, so a space can only ever separate two scopes.
      for (const scope of item.split(' ')) {
        if (scope !== '' && !out.includes(scope)) out.push(checkField(scope, 'scope'))
      }
    }
  }
  return out
}

function checkField (value: string, name: string): string {
  if (value.length > MAX_FIELD_LENGTH || UNSAFE_HEADER_VALUE.test(value)) throw invalid(`identity ${name} is not a valid header value`)
  return value
}

/** The identity's fields as a session store value (and back, via identityFromUser). */
export function serialiseIdentity (identity: Identity): string {
  return JSON.stringify({ id: identity.id, email: identity.email, scopes: identity.scopes, tier: identity.tier })
}
