import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest, RawRequestDefaultExpression } from 'fastify'
import type { Logger } from 'pino'

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
 * and one access log line per request, written when the response has gone.
 */
async function requestContext (app: FastifyInstance): Promise<void> {
  app.decorateRequest('identity', null)

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id)
    reply.header('x-response-time', reply.elapsedTime.toFixed(2))
  })

  app.addHook('onResponse', async (request, reply) => {
    if (!(request.log as Logger).isLevelEnabled('info')) return
    const route = request.routeOptions.config.route
    request.log.info({
      method: request.method,
      path: pathOf(request),
      route: request.routeOptions.url,
      service: route?.service,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
      ip: request.ip
    }, 'request completed')
  })
}

function pathOf (request: FastifyRequest): string {
  const q = request.url.indexOf('?')
  return q === -1 ? request.url : request.url.slice(0, q)
}

export default fp(requestContext, { name: 'portico-request-context', fastify: '5.x' })
