import { Type } from '@sinclair/typebox'

/** Schemas of the gateway's own endpoints and of the error body every route can send. */

export const ErrorResponse = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
  requestId: Type.String()
}, { description: 'Every error Portico sends has this shape' })

export const RootResponse = Type.Object({
  name: Type.String(),
  version: Type.String(),
  links: Type.Object({ docs: Type.String(), health: Type.String(), metrics: Type.String() })
})

export const HealthResponse = Type.Object({
  status: Type.Literal('healthy'),
  service: Type.Literal('api-gateway'),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  timestamp: Type.String({ format: 'date-time' })
}, { additionalProperties: true })

export const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Record(Type.String(), Type.Object({
    status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
    error: Type.Optional(Type.String()),
    durationMs: Type.Number(),
    detail: Type.Optional(Type.Unknown({ description: 'What the check saw, e.g. each target of a service' }))
  }))
})

const Count = Type.Integer({ minimum: 0 })
const BreakerState = Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')])

export const MetricsJsonResponse = Type.Object({
  requests: Type.Object({
    total: Count,
    successful: Type.Integer({ minimum: 0, description: 'Answered with a status below 400' }),
    failed: Type.Integer({ minimum: 0, description: 'Answered with 400 or above (client errors, rate limits, upstream failures)' }),
    cached: Type.Integer({ minimum: 0, description: 'Answered from the response cache' }),
    rateLimited: Type.Integer({ minimum: 0, description: 'Refused with 429' })
  }),
  circuitBreakers: Type.Record(Type.String(), BreakerState, { description: 'Worst breaker state among each service\'s targets' }),
  cache: Type.Object({
    entries: Type.Union([Count, Type.Null()], { description: 'null when the cache store could not be counted' }),
    hits: Count,
    misses: Count
  }),
  tracking: Type.Object({ queued: Count, written: Count, dropped: Count }),
  uptimeSeconds: Count
}, { description: 'Totals since this gateway process started' })
