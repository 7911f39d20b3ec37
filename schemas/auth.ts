import { Type, type Static } from '@sinclair/typebox'

/** RFC 6265's cookie-name token: the SESSION_COOKIE env value and the plugin option. */
export const COOKIE_NAME_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"

const HttpUrl = (description: string) => Type.String({ pattern: '^https?://', description })
const List = (description: string) => Type.Array(Type.String({ minLength: 1 }), { description })

/** Options of the auth plugin (`plugins/auth`), from JWT_*, JWKS_URL, AUTH_VERIFY_*, SESSION_* and RATE_LIMIT_TRUST_HEADERS. */
export const AuthPluginOptionsSchema = Type.Object({
  jwt: Type.Optional(Type.Object({
    secret: Type.Optional(Type.String({ minLength: 1, description: 'JWT_SECRET: HS256 key' })),
    publicKey: Type.Optional(Type.String({ minLength: 1, description: 'JWT_PUBLIC_KEY: PEM key for RS256/ES256/EdDSA' })),
    jwksUrl: Type.Optional(HttpUrl('JWKS_URL: the identity provider\'s key set')),
    issuer: Type.Optional(List('JWT_ISSUER: accepted `iss` values')),
    audience: Type.Optional(List('JWT_AUDIENCE: accepted `aud` values'))
  }, { additionalProperties: false, description: 'Local verification; absent when none of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL is set' })),
  verify: Type.Optional(Type.Object({
    url: HttpUrl('AUTH_VERIFY_URL: the remote verification endpoint'),
    cacheTtl: Type.Integer({ minimum: 0, description: 'AUTH_VERIFY_CACHE_TTL, ms; 0 = never reuse a result' }),
    timeout: Type.Integer({ minimum: 1, description: 'AUTH_VERIFY_TIMEOUT, ms' })
  }, { additionalProperties: false })),
  session: Type.Object({
    cookie: Type.String({ pattern: COOKIE_NAME_PATTERN, description: 'SESSION_COOKIE: the cookie\'s name' }),
    ttl: Type.Integer({ minimum: 1, description: 'SESSION_TTL, ms' }),
    secure: Type.Boolean({ description: 'SESSION_COOKIE_SECURE' })
  }, { additionalProperties: false }),
  trustHeaders: Type.Boolean({ description: 'RATE_LIMIT_TRUST_HEADERS: client X-User-ID / X-User-Tier become an unverified identity for limits' })
}, { additionalProperties: false })

export type AuthPluginOptions = Static<typeof AuthPluginOptionsSchema>
