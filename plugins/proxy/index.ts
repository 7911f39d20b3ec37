import replyFrom, { type FastifyReplyFromHooks, type FastifyReplyFromOptions } from '@fastify/reply-from'
import { Agent, request as undiciRequest } from 'undici'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { GatewayConfig, RouteConfig, ServiceConfig } from '../../services/config/load-config.ts'
import { compileUpstreamPath } from '../../services/proxy/upstream-path.ts'
import { TimedDispatcher } from '../../services/proxy/timed-dispatcher.ts'
import { PathTraversalError } from '../../errors.ts'
import { parseProxiedBody } from './request-body.ts'
import { upstreamError } from './upstream-errors.ts'

export interface ProxyPluginOptions {
  config: GatewayConfig
  /** Default upstream timeout, ms. */
  upstreamTimeout: number
  /** Default request body limit, bytes. */
  bodyLimit: number
}

const DEFAULT_CONNECTIONS_PER_ORIGIN = 128
const KEEP_ALIVE_TIMEOUT_MS = 30_000
const READINESS_TIMEOUT_MS = 1500

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded.
// reply-from already drops `connection`, the headers it lists, and `transfer-encoding`.
const HOP_BY_HOP_REQUEST = ['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade']
const HOP_BY_HOP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'trailer', 'upgrade']

/**
 * Turns every config route into a Fastify route that streams to its service over a keep-alive
 * undici pool. Encapsulated: its catch-all content-type parser must not reach the gateway's own
 * endpoints. Everything a route needs is computed here once, so the handler only substitutes
 * params and calls reply.from.
 */
export default async function proxy (app: FastifyInstance, opts: ProxyPluginOptions): Promise<void> {
  const agent = new Agent({ connections: DEFAULT_CONNECTIONS_PER_ORIGIN, pipelining: 1, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS })
  await app.register(replyFrom, {
    undici: new TimedDispatcher(agent) as unknown as FastifyReplyFromOptions['undici'],
    disableRequestLogging: true,
    disableCache: true
  })
  app.addHook('onClose', async () => { await agent.close() })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', parseProxiedBody)

  for (const route of opts.config.routes) {
    for (const options of routeOptions(route, opts.config.services[route.service], opts)) app.route(options)
  }

  for (const service of Object.values(opts.config.services)) {
    app.readiness.add(`service:${service.name}`, () => checkService(agent, service))
  }
}

/**
 * Fastify refuses a body schema on GET and HEAD, so a route that declares both such methods and a
 * body schema becomes two Fastify routes sharing everything but the body schema.
 */
function routeOptions (route: RouteConfig, service: ServiceConfig, opts: ProxyPluginOptions): RouteOptions[] {
  const base = singleRouteOptions(route, service, opts)
  const bodyless = route.methods.filter(m => m === 'GET' || m === 'HEAD')
  if (route.schema?.body === undefined || bodyless.length === 0) return [base]
  const withBody = route.methods.filter(m => m !== 'GET' && m !== 'HEAD')
  const { body: _body, ...schema } = base.schema!
  const routes: RouteOptions[] = [{ ...base, method: bodyless, exposeHeadRoute: !bodyless.includes('HEAD'), schema }]
  if (withBody.length > 0) routes.push({ ...base, method: withBody, exposeHeadRoute: false })
  return routes
}

function singleRouteOptions (route: RouteConfig, service: ServiceConfig, opts: ProxyPluginOptions): RouteOptions {
  const buildPath = compileUpstreamPath(route.upstreamPath)
  const base = service.url
  const bodyLimit = route.bodyLimit ?? opts.bodyLimit
  const fromOptions: FastifyReplyFromHooks & { timeout: number, retryDelay: () => null } = {
    timeout: route.timeout ?? service.timeout ?? opts.upstreamTimeout,
    // Retries are the upstream pool's decision (idempotent methods, connection failures only);
    // reply-from's own default would retry a GET that got a 503 ten times.
    retryDelay: () => null,
    rewriteRequestHeaders: (request, headers) => forwardedHeaders(request as FastifyRequest, headers as IncomingHttpHeaders),
    rewriteHeaders: (headers) => responseHeaders(headers as IncomingHttpHeaders, service.name),
    onError: (reply, { error }) => {
      reply.header('x-service', service.name)
      reply.send(upstreamError(service.name, error))
    }
  }
  const { response, ...requestSchema } = route.schema ?? {}

  return {
    method: route.methods,
    url: route.path,
    exposeHeadRoute: !route.methods.includes('HEAD'),
    bodyLimit,
    schema: {
      ...requestSchema,
      ...(response ? { response } : {}),
      summary: route.summary,
      description: route.description,
      tags: route.tags
    },
    config: { route, body: { limit: bodyLimit, parse: route.schema?.body !== undefined } },
    handler (request: FastifyRequest, reply: FastifyReply) {
      const path = buildPath(request.params as Record<string, string>)
      if (path === null) throw new PathTraversalError()
      const raw = request.rawBody
      reply.from(base + path, raw === undefined
        ? fromOptions
        : { ...fromOptions, body: raw, contentType: request.headers['content-type'] } as typeof fromOptions)
    }
  }
}

function forwardedHeaders (request: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name of HOP_BY_HOP_REQUEST) {
    if (headers[name] !== undefined && !(name === 'te' && headers.te === 'trailers')) delete headers[name]
  }
  const peer = request.socket.remoteAddress ?? ''
  const prior = headers['x-forwarded-for']
  headers['x-forwarded-for'] = prior ? `${prior}, ${peer}` : peer
  headers['x-forwarded-proto'] = request.protocol
  headers['x-forwarded-host'] = request.host
  headers['x-request-id'] = request.id
  return headers
}

function responseHeaders (headers: IncomingHttpHeaders, service: string): IncomingHttpHeaders {
  for (const name of HOP_BY_HOP_RESPONSE) {
    if (headers[name] !== undefined) delete headers[name]
  }
  headers['x-service'] = service
  return headers
}

/** Up when the service answers: any status at its base URL, or 2xx at its health path. */
async function checkService (agent: Agent, service: ServiceConfig): Promise<void> {
  const path = service.health?.path
  const res = await undiciRequest(service.url + (path ?? '/'), {
    dispatcher: agent,
    method: 'GET',
    headersTimeout: READINESS_TIMEOUT_MS,
    bodyTimeout: READINESS_TIMEOUT_MS
  })
  await res.body.dump()
  if (path !== undefined && (res.statusCode < 200 || res.statusCode > 299)) {
    throw new Error(`${path} answered ${res.statusCode}`)
  }
}
