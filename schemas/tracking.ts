import { Type, type Static } from '@sinclair/typebox'

/** Options of the tracking plugin (app.ts fills them from TRACKING_* env; checked once at registration). */
export const TrackingOptionsSchema = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'Record every proxied request whose route has `track` on' }),
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://', description: 'PostgreSQL URL; absent = embedded PGlite in dataDir' })),
  dataDir: Type.String({ default: './data', minLength: 1, description: 'Directory of the embedded database files' }),
  maxBody: Type.Integer({ default: 16_384, minimum: 0, description: 'Bytes of each request and response body stored' }),
  queueMax: Type.Integer({ default: 50_000, minimum: 1, description: 'Rows held in memory while the database is slow or down' }),
  queueMaxBytes: Type.Integer({ default: 64 * 1024 * 1024, minimum: 1, description: 'Bytes those rows may hold (each row is queued as its COPY line); past it the oldest are dropped' }),
  batchSize: Type.Integer({ default: 500, minimum: 1, maximum: 2000, description: 'Rows per write (one COPY per batch)' }),
  flushInterval: Type.Integer({ default: 200, minimum: 1, description: 'Milliseconds between writes of queued rows' }),
  retention: Type.Integer({ default: 30 * 86_400_000, minimum: 1000, description: 'Milliseconds a row is kept; older rows are deleted by a periodic job' }),
  closeTimeout: Type.Integer({ default: 5000, minimum: 0, description: 'How long shutdown keeps retrying to write queued rows' })
}, { additionalProperties: false })

export type TrackingOptions = Static<typeof TrackingOptionsSchema>

const HeaderMap = Type.Record(Type.String(), Type.Union([Type.String(), Type.Array(Type.String())]))
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()])

export const AdminRequestsQuery = Type.Object({
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50, description: 'How many rows, newest first' }),
  status: Type.Optional(Type.String({ pattern: '^([1-5][0-9][0-9]|[1-5][xX][xX])$', description: 'An exact status code (404) or a class (5xx)' })),
  path: Type.Optional(Type.String({ pattern: '^/', maxLength: 2048, description: 'An exact path (no query string), or a prefix ending in * (/api/users/*)' })),
  user: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Identity id (user_id)' })),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only rows created at or after this instant (ISO 8601)' }))
}, { additionalProperties: false })

export type AdminRequestsQueryType = Static<typeof AdminRequestsQuery>

export const TrackedRequest = Type.Object({
  id: Type.Integer(),
  request_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  method: Type.String(),
  path: Type.String({ description: 'Without the query string' }),
  query: Nullable(Type.String()),
  route: Type.String({ description: 'The route pattern that matched' }),
  service: Type.String(),
  status_code: Type.Integer(),
  duration_ms: Type.Number(),
  upstream_ms: Type.Union([Type.Number(), Type.Null()], { description: 'From the call to the upstream to its response headers or failure' }),
  ip: Nullable(Type.String()),
  user_id: Nullable(Type.String()),
  tier: Nullable(Type.String()),
  user_agent: Nullable(Type.String()),
  cache_status: Nullable(Type.String({ description: 'HIT, MISS or BYPASS on cacheable routes' })),
  rate_limit: Nullable(Type.String({ description: 'limited (429) or allowed on rate-limited routes' })),
  request_headers: HeaderMap,
  request_body: Nullable(Type.String()),
  request_body_truncated: Type.Boolean(),
  bytes_in: Type.Integer(),
  response_headers: HeaderMap,
  response_body: Nullable(Type.String()),
  response_body_truncated: Type.Boolean(),
  bytes_out: Type.Integer(),
  error: Nullable(Type.String({ description: 'CODE: message of the error the request ended with' }))
})

export const AdminRequestsResponse = Type.Object({
  requests: Type.Array(TrackedRequest)
})
