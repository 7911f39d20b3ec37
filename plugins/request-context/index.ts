import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { trace } from '@opentelemetry/api'
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawRequestDefaultExpression } from 'fastify'

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified identity (null = anonymous); set by the auth plugin. */
    identity: import('../../services/auth/identity.ts').Identity | null
  }
  interface FastifyContextConfig {
    /** Set by the proxy on every proxied route: the config-file route it serves. */
    route?: import('../../services/config/load-config.ts').RouteConfig
  }
}

const MAX_REQUEST_ID_LENGTH = 128
const VALID_REQUEST_ID = /^[A-Za-z0-9._-]+$/

/** Fastify's `genReqId`: the client's X-Request-ID when it is safe to echo and log, else a UUID. */
export function genReqId (req: RawRequestDefaultExpression): string {
  const id = req.headers['x-request-id']
  if (typeof id === 'string' && id.length <= MAX_REQUEST_ID_LENGTH && VALID_REQUEST_ID.test(id)) return id
  return randomUUID()
}

/**
 * X-Request-ID and X-Response-Time on every response (errors and 404s too: onSend runs for them),
 * and one access log line per request, written when the response has gone: the contract's fields,
 * the trace id when tracing is on, the cache outcome (the X-Cache header the cache plugin set) and
 * whether the request was rate limited (429). Fields without a value are left out. At debug level
 * the line also carries the request headers, credentials redacted (REDACTED_LOG_PATHS in app.ts).
 */
async function requestContext (app: FastifyInstance): Promise<void> {
  app.decorateRequest('identity', null)

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    reply.header('x-response-time', reply.elapsedTime.toFixed(2))
  })

  app.addHook('onResponse', async (request, reply) => {
    const log = request.log
    if (!levelEnabled(log, 'info')) return
    const options = request.routeOptions
    const cache = reply.getHeader('x-cache')
    const line: AccessLine = {
      method: request.method,
      path: pathOf(request),
      route: options.url,
      service: options.config.route?.service,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      ip: request.ip,
      userId: request.identity?.id,
      // Without the OpenTelemetry SDK (tracing off) the API answers undefined at once.
      traceId: trace.getActiveSpan()?.spanContext().traceId,
      cache: typeof cache === 'string' ? cache : undefined,
      rateLimited: reply.statusCode === 429 ? true : undefined
    }
    if (levelEnabled(log, 'debug')) line.headers = request.headers
    log.info(line, 'request completed')
  })
}

interface AccessLine {
  method: string
  path: string
  route: string | undefined
  service: string | undefined
  statusCode: number
  responseTimeMs: number
  ip: string
  userId: string | undefined
  traceId: string | undefined
  cache: string | undefined
  rateLimited: true | undefined
  headers?: Record<string, unknown>
}

// pino loggers answer isLevelEnabled; Fastify's no-op logger (logger: false) does not.
function levelEnabled (log: FastifyBaseLogger, level: string): boolean {
  const pinoLike = log as FastifyBaseLogger & { isLevelEnabled?: (level: string) => boolean }
  return pinoLike.isLevelEnabled !== undefined && pinoLike.isLevelEnabled(level)
}

function pathOf (request: FastifyRequest): string {
  const q = request.url.indexOf('?')
  return q === -1 ? request.url : request.url.slice(0, q)
}

export default fp(requestContext, { name: 'portico-request-context', fastify: '5.x' })
