import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { COOKIE_NAME_PATTERN } from './auth.ts'
import { DURATION_PATTERN, SIZE_PATTERN } from '../services/config/units.ts'

/**
 * Every environment variable Portico reads. Values arrive as strings; each field carries the
 * phrase (`expected`) its error prints, and `kind` says how `loadEnv` decodes it.
 * Plugins add their variables here, next to the concern's name.
 */
const str = (description: string, def?: string) =>
  Type.Optional(Type.String({ description, default: def, kind: 'string' }))
const duration = (description: string, def: string) =>
  Type.Optional(Type.String({ description, default: def, pattern: DURATION_PATTERN, kind: 'duration', expected: 'a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds' }))
const size = (description: string, def: string) =>
  Type.Optional(Type.String({ description, default: def, pattern: SIZE_PATTERN, kind: 'size', expected: 'a size like 512kb, 1mb or a number of bytes' }))
const bool = (description: string, def: string) =>
  Type.Optional(Type.String({ description, default: def, pattern: '^(true|false|1|0|yes|no)$', kind: 'boolean', expected: 'true or false' }))
const int = (description: string, def: string, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  Type.Optional(Type.String({ description, default: def, pattern: '^\\d+$', kind: 'integer', minimum: min, maximum: max, expected: `an integer from ${min} to ${max}` }))
const url = (description: string, protocols: string[]) =>
  Type.Optional(Type.String({ description, kind: 'url', protocols, expected: `a URL starting with ${protocols.map(p => p + '//').join(' or ')}` }))

export const EnvSchema = Type.Object({
  // core
  PORT: int('Port to listen on', '8080', 0, 65535),
  HOST: str('Address to listen on', '0.0.0.0'),
  GATEWAY_CONFIG: str('Path to the routes/services file (YAML or JSON); unset = the bundled example and its example services'),
  LOG_LEVEL: Type.Optional(Type.String({ description: 'pino log level', default: 'info', pattern: '^(fatal|error|warn|info|debug|trace|silent)$', kind: 'string', expected: 'one of fatal, error, warn, info, debug, trace, silent' })),
  UPSTREAM_TIMEOUT: duration('Default upstream timeout (a service or route may override it)', '10s'),
  BODY_LIMIT: size('Request bodies above this size get 413', '1mb'),
  CORS_ORIGINS: str('Comma-separated allowed origins or `*`; unset = CORS off'),
  TRUST_PROXY: str('Fastify trustProxy: true, false, a hop count, or a comma list of addresses/CIDRs', 'false'),
  ADMIN_TOKEN: str('Bearer token for /admin/*; unset = admin API off (404)'),
  SHUTDOWN_TIMEOUT: duration('How long SIGTERM waits for in-flight requests before closing anyway', '10s'),
  // shared stores
  REDIS_URL: url('redis:// or rediss:// URL; unset = in-process memory stores', ['redis:', 'rediss:']),
  REDIS_KEY_PREFIX: str('Prefix of every key Portico writes in Redis', 'gateway'),
  // rate limit (issue 4)
  RATE_LIMIT_MAX: int('Requests per window per client, for any tier RATE_LIMIT_TIERS does not name', '100', 1),
  RATE_LIMIT_WINDOW: Type.Optional(Type.String({ description: 'The rate-limit window (a route may set its own)', default: '1m', pattern: DURATION_PATTERN, kind: 'duration', minimum: 1, expected: 'a duration above 0 like 500ms, 10s, 1m, 1h or a number of milliseconds' })),
  RATE_LIMIT_TIERS: Type.Optional(Type.String({ description: 'Requests per window per identity tier: no identity = anonymous, identity without a tier = default', default: 'anonymous:50,premium:1000', kind: 'tiers', expected: 'a comma list of tier:max (max at least 1), like anonymous:50,premium:1000' })),
  RATE_LIMIT_ALGORITHM: Type.Optional(Type.String({ description: 'fixed-window (a counter per window) or gcra (a smooth token bucket: no 2x burst at window edges)', default: 'fixed-window', pattern: '^(fixed-window|gcra)$', kind: 'string', expected: 'fixed-window or gcra' })),
  // tracking (issue 6)
  DATABASE_URL: url('postgres:// URL of the tracking database; unset = embedded PostgreSQL (PGlite) under DATA_DIR', ['postgres:', 'postgresql:']),
  DATA_DIR: str('Directory of the embedded tracking database files', './data'),
  TRACKING_ENABLED: bool('Record every proxied request in the requests table', 'true'),
  TRACKING_MAX_BODY: size('Request and response bodies are stored up to this size (then marked truncated)', '16kb'),
  TRACKING_QUEUE_MAX: int('Rows held in memory while the database is slow or down; beyond it the oldest are dropped and counted', '50000', 1, 10_000_000),
  TRACKING_QUEUE_MAX_BYTES: size('Memory those rows may hold (each row is queued as its COPY line); beyond it the oldest are dropped and counted', '64mb'),
  TRACKING_BATCH_SIZE: int('Rows per write (one COPY per batch)', '500', 1, 2000),
  TRACKING_FLUSH_INTERVAL: duration('How often queued rows are written', '200ms'),
  TRACKING_RETENTION: duration('Rows older than this are deleted by a periodic job', '30d'),
  // cache (issue 5)
  CACHE_TTL: duration('TTL of a route with `cache: true` (a route may set its own `cache.ttl`)', '5m'),
  CACHE_MAX_ENTRY: size('Responses with a larger body are not cached (streamed as usual)', '1mb'),
  CACHE_MAX_MEMORY: size('Bound of the in-process cache (LRU by bytes) used when REDIS_URL is unset', '64mb'),
  // observability (read by the OpenTelemetry SDK in tracing.ts from process.env; validated here)
  OTEL_EXPORTER_OTLP_ENDPOINT: url('OTLP collector base URL (e.g. http://jaeger:4318); unset = tracing off', ['http:', 'https:']),
  OTEL_SERVICE_NAME: str('Service name on every span', 'portico'),
  // auth (issue 3)
  JWT_SECRET: str('Shared secret for local HS256 JWT verification'),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ description: 'PEM public key (RSA or EC; `\\n` escapes allowed) for local RS256/ES256 JWT verification', kind: 'pem', expected: 'a PEM public key (-----BEGIN PUBLIC KEY-----) of type RSA (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519' })),
  JWKS_URL: url("Identity provider's JSON Web Key Set; keys are cached by kid and refetched on an unknown kid", ['http:', 'https:']),
  JWT_ISSUER: str('Accepted `iss` (comma list); when set, tokens must carry it'),
  JWT_AUDIENCE: str('Accepted `aud` (comma list); when set, tokens must carry one of them'),
  AUTH_VERIFY_URL: url('Remote verification: POST {"token"} (also sent as Authorization: Bearer); 200 {user_id, email?, scopes?, tier?} = valid', ['http:', 'https:']),
  AUTH_VERIFY_CACHE_TTL: duration('How long a remote verification result is reused (cached by token hash); 0 = never', '30s'),
  AUTH_VERIFY_TIMEOUT: duration('How long the verify service may take before the request gets 503', '3s'),
  SESSION_COOKIE: Type.Optional(Type.String({ description: 'Name of the gateway session cookie', default: 'session', pattern: COOKIE_NAME_PATTERN, kind: 'string', expected: 'a cookie name (letters, digits and !#$%&\'*+.^_`|~-)' })),
  SESSION_TTL: duration('Lifetime of a gateway session (and its cookie)', '1d'),
  SESSION_COOKIE_SECURE: bool('Mark the session cookie Secure (HTTPS only)', 'false'),
  RATE_LIMIT_TRUST_HEADERS: bool('Accept client X-User-ID / X-User-Tier as an unverified identity for rate limiting (only behind a trusted edge)', 'false'),
  // resilience (issue 7)
  REGISTRY_REFRESH_INTERVAL: duration('How often each instance re-reads the service registry (targets registered at run time)', '1s')
}, { additionalProperties: true })

export type EnvSchemaType = Static<typeof EnvSchema>
export type EnvField = TSchema & { kind: 'string' | 'duration' | 'size' | 'boolean' | 'integer' | 'url' | 'pem' | 'tiers', expected?: string, protocols?: string[] }
