import replyFrom, { type FastifyReplyFromOptions } from '@fastify/reply-from'
import { Agent } from 'undici'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { TargetPool } from '../../services/upstream/target-pool.ts'
import type { RouteConfig, ServiceConfig } from '../../services/config/load-config.ts'
import { ProxyPluginOptionsSchema, type ProxyPluginOptions } from '../../schemas/infrastructure.ts'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import { compileUpstreamPath } from '../../services/proxy/upstream-path.ts'
import { TimedDispatcher } from '../../services/proxy/timed-dispatcher.ts'
import { TracedDispatcher } from '../../services/tracing/traced-dispatcher.ts'
import { tracingStarted } from '../../services/tracing/shutdown.ts'
import { PathTraversalError } from '../../errors.ts'
import { parseProxiedBody } from './request-body.ts'
import { decorateUpstreamCall, UpstreamCall } from './upstream-call.ts'
import upstream from '../upstream/index.ts'

export type { ProxyPluginOptions }

const DEFAULT_CONNECTIONS_PER_ORIGIN = 128
const KEEP_ALIVE_TIMEOUT_MS = 30_000
const DEFAULT_REGISTRY_REFRESH_MS = 1000

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
export default async function proxy (app: FastifyInstance, rawOpts: ProxyPluginOptions): Promise<void> {
  const opts = checkPluginOptions('portico-proxy', ProxyPluginOptionsSchema, rawOpts)
  const agent = new Agent({ connections: DEFAULT_CONNECTIONS_PER_ORIGIN, pipelining: 1, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS })
  const timed = new TimedDispatcher(agent)
  await app.register(replyFrom, {
    // The upstream call's client span, when tracing is on, covers the wait for headers, timeouts included.
    undici: (tracingStarted() ? new TracedDispatcher(timed) : timed) as unknown as FastifyReplyFromOptions['undici'],
    disableRequestLogging: true,
    disableCache: true
  })
  app.addHook('onClose', async () => { await agent.close() })

  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', parseProxiedBody)
  decorateUpstreamCall(app)

  // Targets, balancing, breakers and retries live in app.upstreams (plugins/upstream, issue 7),
  // registered by app.ts at the root so /health, /metrics and /admin see it. A proxy assembled
  // without it (a plugin test) gets its own, in-process, inside this context.
  if (!app.hasDecorator('upstreams')) {
    await app.register(upstream, { config: opts.config, upstreamTimeout: opts.upstreamTimeout, registryRefreshInterval: DEFAULT_REGISTRY_REFRESH_MS })
  }
  for (const route of opts.config.routes) {
    for (const options of routeOptions(app, route, opts.config.services[route.service], app.upstreams.pool(route.service), opts)) app.route(options)
  }
}

/**
 * Fastify refuses a body schema on GET and HEAD, so a route that declares both such methods and a
 * body schema becomes two Fastify routes sharing everything but the body schema.
 */
function routeOptions (app: FastifyInstance, route: RouteConfig, service: ServiceConfig, pool: TargetPool, opts: ProxyPluginOptions): RouteOptions[] {
  const base = singleRouteOptions(app, route, service, pool, opts)
  const bodyless = route.methods.filter(m => m === 'GET' || m === 'HEAD')
  if (route.schema?.body === undefined || bodyless.length === 0) return [base]
  const withBody = route.methods.filter(m => m !== 'GET' && m !== 'HEAD')
  const { body: _body, ...schema } = base.schema!
  const routes: RouteOptions[] = [{ ...base, method: bodyless, exposeHeadRoute: !bodyless.includes('HEAD'), schema }]
  if (withBody.length > 0) routes.push({ ...base, method: withBody, exposeHeadRoute: false })
  return routes
}

function singleRouteOptions (app: FastifyInstance, route: RouteConfig, service: ServiceConfig, pool: TargetPool, opts: ProxyPluginOptions): RouteOptions {
  const buildPath = compileUpstreamPath(route.upstreamPath)
  const bodyLimit = route.bodyLimit ?? opts.bodyLimit
  const call = new UpstreamCall(app, pool, service.retries, {
    timeout: route.timeout ?? service.timeout ?? opts.upstreamTimeout,
    rewriteRequestHeaders: (request, headers) => forwardedHeaders(request as FastifyRequest, headers as IncomingHttpHeaders),
    rewriteHeaders: (headers) => responseHeaders(headers as IncomingHttpHeaders, service.name)
  })
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
    // Frees the chosen target when the client leaves before the upstream answers (reply-from then calls neither hook).
    onRequestAbort: call.onRequestAbort,
    handler (request: FastifyRequest, reply: FastifyReply) {
      const path = buildPath(request.params as Record<string, string>)
      if (path === null) throw new PathTraversalError()
      call.send(request, reply, path)
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
