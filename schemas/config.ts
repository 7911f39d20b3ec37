import { Type, type Static } from '@sinclair/typebox'
import { Duration, Size } from './units.ts'

/**
 * The config file (YAML or JSON): services and the routes proxied to them (contract §3).
 * Every object rejects unknown keys. Each concern adds its route options next to its name.
 */

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

export const AUTH_MODES = ['none', 'optional', 'required'] as const
export const SESSION_ACTIONS = ['create', 'destroy'] as const
const UpstreamUrl = (description: string) => Type.String({ pattern: '^https?://[^/]', description, expected: 'an http:// or https:// URL' })

export const ServiceSchema = Type.Object({
  url: Type.Optional(UpstreamUrl('Base URL of the service (http or https); or `urls` for several targets')),
  urls: Type.Optional(Type.Array(UpstreamUrl('Base URL of one target'), { uniqueItems: true, description: 'Targets of the service, balanced; `[]` = only targets registered at run time (PUT /admin/services/:name/targets)', expected: 'a list of distinct http:// or https:// URLs' })),
  timeout: Type.Optional(Duration({ description: 'Upstream timeout for this service; overrides UPSTREAM_TIMEOUT' })),
  // resilience (issue 7)
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 5, description: 'Retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) after a connection failure, on another target when there is one; default 0', expected: 'an integer from 0 to 5' })),
  balance: Type.Optional(Type.Union([Type.Literal('round-robin'), Type.Literal('least-connections')], { description: 'How a target is chosen; default round-robin' })),
  health: Type.Optional(Type.Object({
    path: Type.String({ pattern: '^/', description: 'Path that answers 2xx when the service is healthy; /health/ready checks it', expected: 'a path starting with /' }),
    interval: Type.Optional(Duration({ description: 'Probe every target this often in the background (active health checks); unset = only /health/ready asks' })),
    timeout: Type.Optional(Duration({ description: 'A probe unanswered after this fails; default 2s' })),
    healthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Consecutive passed probes that readmit a target; default 2', expected: 'an integer from 1 to 100' })),
    unhealthyThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Consecutive failed probes that take a target out; default 3', expected: 'an integer from 1 to 100' }))
  }, { additionalProperties: false })),
  circuitBreaker: Type.Optional(Type.Union([
    Type.Literal(false),
    Type.Object({
      failureThreshold: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Consecutive failures (connection error, timeout, 502/503/504) that open a target\'s circuit; default 5', expected: 'an integer from 1 to 1000' })),
      resetTimeout: Type.Optional(Duration({ description: 'How long an open circuit answers 503 before one probe request may pass; default 30s' }))
    }, { additionalProperties: false, expected: 'false or an object with failureThreshold and resetTimeout' })
  ], { description: 'Per-target circuit breaker; on by default, `false` turns it off', expected: 'false or an object with failureThreshold and resetTimeout' }))
}, { additionalProperties: false })

const JsonSchemaObject = Type.Object({}, { additionalProperties: true, expected: 'a JSON Schema object' })

export const RouteSchemaSchema = Type.Object({
  params: Type.Optional(JsonSchemaObject),
  querystring: Type.Optional(JsonSchemaObject),
  headers: Type.Optional(JsonSchemaObject),
  body: Type.Optional(JsonSchemaObject),
  response: Type.Optional(Type.Record(Type.String({ pattern: '^([1-5][0-9][0-9]|[1-5]XX|default)$' }), JsonSchemaObject, { expected: 'an object of status codes (200, 4XX, default) to JSON Schemas' }))
}, { additionalProperties: false, description: 'JSON Schemas that validate the request and feed /docs' })

// rate limit (issue 4): `rateLimit: { max, window, key }` or `false`
export const RATE_LIMIT_KEY_PATTERN = "^(ip|user|header:[A-Za-z0-9!#$%&'*+.^_`|~-]+)$"
export const RouteRateLimitSchema = Type.Union([
  Type.Object({
    max: Type.Optional(Type.Integer({ minimum: 1, description: 'Requests per window per client on this route; replaces the tier limits', expected: 'an integer of at least 1' })),
    window: Type.Optional(Duration({ description: 'Window of this route; overrides RATE_LIMIT_WINDOW' })),
    key: Type.Optional(Type.String({ pattern: RATE_LIMIT_KEY_PATTERN, description: 'Who is counted: user (default; the client IP when anonymous), ip, or header:<name>', expected: 'user, ip or header:<name>' }))
  }, { additionalProperties: false }),
  Type.Literal(false)
], { description: 'Rate limit of this route; `false` = none. Default: RATE_LIMIT_MAX / RATE_LIMIT_TIERS per RATE_LIMIT_WINDOW, keyed by user', expected: 'an object with max, window, key, or false' })

export const CacheSchema = Type.Object({
  ttl: Type.Optional(Duration({ description: 'How long a response stays fresh; default CACHE_TTL' })),
  vary: Type.Optional(Type.Array(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", expected: 'a header name' }), { uniqueItems: true, description: 'Request headers whose values are part of the cache key', expected: 'a list of header names' })),
  statuses: Type.Optional(Type.Array(Type.Integer({ minimum: 200, maximum: 599, expected: 'an HTTP status from 200 to 599' }), { minItems: 1, uniqueItems: true, description: 'Upstream statuses that are stored; default [200]', expected: 'a non-empty list of HTTP statuses' }))
}, { additionalProperties: false })

export const RouteSchema = Type.Object({
  path: Type.String({ pattern: '^/', description: 'Fastify path: `/api/users/:id`, or `/api/files/*` for a prefix', expected: 'a path starting with /' }),
  methods: Type.Optional(Type.Array(Type.Union(HTTP_METHODS.map(m => Type.Literal(m))), { minItems: 1, uniqueItems: true, description: 'HTTP methods; default all', expected: `a non-empty list of ${HTTP_METHODS.join(', ')}` })),
  service: Type.String({ minLength: 1, description: 'Name of a service in `services`' }),
  upstreamPath: Type.Optional(Type.String({ pattern: '^/', description: 'Path at the upstream; `:params` are substituted; a wildcard route ends in `*` here too', expected: 'a path starting with /' })),
  timeout: Type.Optional(Duration({ description: "Upstream timeout for this route; overrides the service's" })),
  bodyLimit: Type.Optional(Size({ description: 'Request body limit for this route; overrides BODY_LIMIT' })),
  summary: Type.Optional(Type.String({ description: 'One line for /docs' })),
  description: Type.Optional(Type.String({ description: 'Longer text for /docs' })),
  tags: Type.Optional(Type.Array(Type.String(), { description: 'OpenAPI tags; default the service name' })),
  track: Type.Optional(Type.Boolean({ description: 'Record this route\'s requests in the requests table (default true)', expected: 'true or false' })),
  schema: Type.Optional(RouteSchemaSchema),
  rateLimit: Type.Optional(RouteRateLimitSchema),
  // cache (issue 5)
  cache: Type.Optional(Type.Union([Type.Boolean(), CacheSchema], { description: 'Cache GET (and HEAD) responses: `true` (TTL CACHE_TTL) or `{ ttl, vary, statuses }`', expected: 'true, false or an object with ttl, vary, statuses' })),
  invalidates: Type.Optional(Type.Array(Type.String({ pattern: '^/', expected: 'a path pattern starting with /' }), { description: 'Cache patterns purged after a 2xx of this route: `/api/users`, `/api/users/*` (below it), `/api/users/:id` (params filled from the request)', expected: 'a list of path patterns' })),
  // auth (issue 3)
  auth: Type.Optional(Type.Union(AUTH_MODES.map(m => Type.Literal(m)), { description: 'none (default): credentials are not read; optional: an identity when credentials are given (bad ones get 401); required: 401 without one', expected: 'none, optional or required' })),
  scopes: Type.Optional(Type.Array(Type.String({ pattern: '^\\S+$', expected: 'a scope name without spaces' }), { minItems: 1, uniqueItems: true, description: 'Scopes the identity must all hold, else 403; implies auth: required', expected: 'a non-empty list of distinct scope names without spaces' })),
  session: Type.Optional(Type.Union(SESSION_ACTIONS.map(a => Type.Literal(a)), { description: 'create: a 2xx JSON answer with a `user` object starts a gateway session (cookie); destroy: ends it', expected: 'create or destroy' }))
}, { additionalProperties: false })

export const ConfigFileSchema = Type.Object({
  services: Type.Record(Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), ServiceSchema, { description: 'Upstream services by name', expected: 'an object of service names (letters, digits, _ and -) to services' }),
  routes: Type.Array(RouteSchema, { description: 'Proxied routes' })
}, { additionalProperties: false })

export type ConfigFile = Static<typeof ConfigFileSchema>
export type RouteFile = Static<typeof RouteSchema>
export type ServiceFile = Static<typeof ServiceSchema>
