import type { Identity } from './identity.ts'
import type { JwtVerifier } from './jwt-verifier.ts'
import type { RemoteVerifier } from './remote-verifier.ts'
import type { SessionStore } from './session-store.ts'
import { invalid, unavailable } from './auth-failure.ts'

/** Longer bearer tokens are rejected before any work (a JWT with a fat claim set is ~2 KB). */
export const MAX_TOKEN_LENGTH = 8192
// RFC 6750 b64token: what a bearer token may be made of.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/

export interface AuthenticatorOptions {
  /** Local verification (JWT_SECRET, JWT_PUBLIC_KEY or JWKS_URL). */
  jwt?: JwtVerifier
  /** Remote verification (AUTH_VERIFY_URL). */
  remote?: RemoteVerifier
  sessions: SessionStore
}

/**
 * Turns a credential into an identity, or throws an AuthFailure. Bearer tokens: with both local
 * and remote verification configured, JWTs (three dot-separated parts) are checked locally and
 * opaque tokens go to the verify service; with one of them, it gets every token.
 */
export class Authenticator {
  constructor (private readonly options: AuthenticatorOptions) {}

  get acceptsBearer (): boolean {
    return this.options.jwt !== undefined || this.options.remote !== undefined
  }

  /** The identity of an `Authorization` header value; synchronous when the token is known. */
  bearer (header: string): Identity | Promise<Identity> {
    const token = bearerToken(header)
    const { jwt, remote } = this.options
    if (jwt !== undefined && (remote === undefined || isCompactJws(token))) return jwt.verify(token)
    if (remote !== undefined) return remote.verify(token)
    throw invalid('bearer tokens are not accepted by this gateway')
  }

  /** The identity of a session cookie value. */
  async session (id: string): Promise<Identity> {
    let identity: Identity | null
    try {
      identity = await this.options.sessions.get(id)
    } catch (err) {
      throw unavailable('session store', err)
    }
    if (identity === null) throw invalid('session is invalid or has expired')
    return identity
  }
}

/** The token of `Bearer <token>` (scheme case-insensitive); anything else is a bad credential. */
export function bearerToken (header: string): string {
  if (header.length < 7 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
    throw invalid(header.trim().toLowerCase() === 'bearer' ? 'bearer token is missing' : 'authorization scheme must be Bearer')
  }
  const token = header.slice(7).trim()
  if (token === '') throw invalid('bearer token is missing')
  if (token.length > MAX_TOKEN_LENGTH) throw invalid('bearer token is too long')
  if (!B64TOKEN.test(token)) throw invalid('malformed token')
  return token
}

function isCompactJws (token: string): boolean {
  const first = token.indexOf('.')
  return first > 0 && token.indexOf('.', first + 1) > first
}
