import { createVerifier, TOKEN_ERROR_CODES } from 'fast-jwt'
import type { Identity } from './identity.ts'
import { identityFromClaims } from './claims.ts'
import { IdentityCache } from './identity-cache.ts'
import { HMAC_ALGORITHMS } from './key-algorithms.ts'
import type { JwksKey, JwksKeyStore } from './jwks.ts'
import { AuthFailure, invalid, unavailable } from './auth-failure.ts'

/** How long a verified token's identity is reused at most (its own `exp` cuts it shorter). */
export const DEFAULT_VERIFIED_TOKEN_TTL = 5 * 60_000

export interface JwtVerifierOptions {
  /** HS256 (HS384, HS512) shared secret: JWT_SECRET. */
  secret?: string
  /** A PEM public key and the algorithms its type allows: JWT_PUBLIC_KEY. */
  publicKey?: { pem: string, algorithms: string[] }
  /** The identity provider's key set: JWKS_URL. */
  jwks?: JwksKeyStore
  /** Accepted `iss` values; when given the claim is required. */
  issuer?: string[]
  /** Accepted `aud` values; when given the claim is required. */
  audience?: string[]
  verifiedTokenTtl?: number
  /** Cache size; 0 turns the verified-token cache off. */
  cacheEntries?: number
}

type VerifyFn = (token: string) => Record<string, unknown>

/**
 * Local JWT verification with fast-jwt (what @fastify/jwt runs underneath), with the algorithms
 * pinned to the configured key's type. `exp` and `nbf` are always checked when present,
 * `iss`/`aud` when configured. Results are cached per token until the token's own expiry.
 * Returns synchronously for a secret or a PEM key (and for any cache hit); a JWKS key that is
 * not cached yet makes it asynchronous.
 */
export class JwtVerifier {
  private readonly cache: IdentityCache
  private readonly fixed: VerifyFn | undefined
  private readonly perKey = new WeakMap<JwksKey, VerifyFn>()

  constructor (private readonly options: JwtVerifierOptions) {
    this.cache = new IdentityCache(options.verifiedTokenTtl ?? DEFAULT_VERIFIED_TOKEN_TTL, options.cacheEntries)
    if (options.secret !== undefined) this.fixed = this.build(options.secret, HMAC_ALGORITHMS)
    else if (options.publicKey !== undefined) this.fixed = this.build(options.publicKey.pem, options.publicKey.algorithms)
    else if (options.jwks === undefined) throw new Error('JwtVerifier needs a secret, a public key or a key set')
  }

  verify (token: string): Identity | Promise<Identity> {
    const now = Date.now()
    const hit = this.cache.get(token, now)
    if (hit !== undefined) return hit
    if (this.fixed !== undefined) return this.check(this.fixed, token, now)
    return this.verifyWithKeySet(token, now)
  }

  clearCache (): void { this.cache.clear() }

  private async verifyWithKeySet (token: string, now: number): Promise<Identity> {
    const kid = headerKid(token)
    const jwks = this.options.jwks!
    let key = jwks.cached(kid)
    if (key === undefined) {
      try {
        key = await jwks.get(kid)
      } catch (err) {
        throw unavailable('auth service', err)
      }
      if (key === undefined) throw invalid('token signing key is unknown')
    }
    let verify = this.perKey.get(key)
    if (verify === undefined) {
      verify = this.build(key.pem, key.algorithms)
      this.perKey.set(key, verify)
    }
    return this.check(verify, token, now)
  }

  private check (verify: VerifyFn, token: string, now: number): Identity {
    let claims: Record<string, unknown>
    try {
      claims = verify(token)
    } catch (err) {
      throw tokenFailure(err)
    }
    const identity = identityFromClaims(claims, 'jwt')
    this.cache.set(token, identity, now, typeof claims.exp === 'number' ? claims.exp : undefined)
    return identity
  }

  private build (key: string, algorithms: string[]): VerifyFn {
    const { issuer, audience } = this.options
    const required = [...(issuer ? ['iss'] : []), ...(audience ? ['aud'] : [])]
    return createVerifier({
      key,
      algorithms: algorithms as never,
      ...(issuer ? { allowedIss: issuer } : {}),
      ...(audience ? { allowedAud: audience } : {}),
      ...(required.length > 0 ? { requiredClaims: required } : {}),
      // The verified-token cache above holds identities; fast-jwt's own would hash every token.
      cache: false
    }) as VerifyFn
  }
}

/** The `kid` of a compact JWS header, undefined when absent; a header that is not JSON is malformed. */
export function headerKid (token: string): string | undefined {
  const dot = token.indexOf('.')
  if (dot <= 0) throw invalid('malformed token')
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'))
  } catch {
    throw invalid('malformed token')
  }
  if (header === null || typeof header !== 'object') throw invalid('malformed token')
  const kid = (header as { kid?: unknown }).kid
  return typeof kid === 'string' ? kid : undefined
}

const MESSAGES: Record<string, string> = {
  [TOKEN_ERROR_CODES.expired]: 'token has expired',
  [TOKEN_ERROR_CODES.inactive]: 'token is not yet valid',
  [TOKEN_ERROR_CODES.invalidSignature]: 'token signature is invalid',
  [TOKEN_ERROR_CODES.invalidAlgorithm]: 'token algorithm is not accepted',
  [TOKEN_ERROR_CODES.missingSignature]: 'token is not signed',
  [TOKEN_ERROR_CODES.malformed]: 'malformed token',
  [TOKEN_ERROR_CODES.invalidType]: 'malformed token',
  [TOKEN_ERROR_CODES.invalidPayload]: 'malformed token',
  [TOKEN_ERROR_CODES.invalidCritHeader]: 'token has an unsupported critical header'
}

function tokenFailure (err: unknown): AuthFailure {
  if (err instanceof AuthFailure) return err
  const { code, message } = err as { code?: string, message?: string }
  const known = code === undefined ? undefined : MESSAGES[code]
  if (known !== undefined) return invalid(known)
  if (code === TOKEN_ERROR_CODES.invalidClaimValue || code === TOKEN_ERROR_CODES.invalidClaimType || code === TOKEN_ERROR_CODES.missingRequiredClaim) {
    const claim = /\b(iss|aud|sub|exp|nbf|iat|jti)\b/.exec(message ?? '')?.[1]
    if (claim === 'iss') return invalid('token issuer is not accepted')
    if (claim === 'aud') return invalid('token audience is not accepted')
    return invalid(claim ? `token claim ${claim} is invalid` : 'token claims are invalid')
  }
  return invalid('invalid token')
}
