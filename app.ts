import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import cors from '@fastify/cors'
import type { GatewayEnv } from './services/config/env.ts'
import type { GatewayConfig } from './services/config/load-config.ts'
import requestContext, { genReqId } from './plugins/request-context/index.ts'
import errorHandler from './plugins/error-handler/index.ts'
import readiness from './plugins/readiness/index.ts'
import redis from './plugins/redis/index.ts'
import docs from './plugins/docs/index.ts'
import proxy from './plugins/proxy/index.ts'
import upstream from './plugins/upstream/index.ts'
import rateLimit, { rateLimitOptions } from './plugins/rate-limit/index.ts'
import cache from './plugins/cache/index.ts'
import adminCacheRoutes from './routes/admin-cache.ts'
import auth, { authOptions } from './plugins/auth/index.ts'
import rootRoute from './routes/root.ts'
import healthRoutes from './routes/health.ts'
import adminRoutes from './routes/admin.ts'
import adminRequestsRoutes from './routes/admin-requests.ts'
import tracking from './plugins/tracking/index.ts'
import adminServices from './routes/admin-services.ts'
import metrics from './plugins/metrics/index.ts'
import metricsRoute from './routes/metrics.ts'
import { noopMetrics, type GatewayMetrics } from './services/metrics/types.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Where concerns report events; a no-op until the metrics plugin replaces it. */
    metrics: GatewayMetrics
  }
}

export interface AppOptions {
  env: GatewayEnv
  config: GatewayConfig
  /** Fastify logger option; server.ts passes pino options, tests usually `false`. */
  logger?: FastifyServerOptions['logger']
}

// Headers that carry credentials never reach a log line.
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]',
  'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie',
  'headers["x-api-key"]', 'headers["proxy-authorization"]'
]

/**
 * The composition root: every concern is a plugin, registered here in the order requests meet
 * them. Infrastructure first (readiness registry, stores, error shape, request id/timing), then
 * docs (it must see every route as it is added), then the per-request concerns in Kong's
 * priority order (tracking → auth → rate limit → cache), then the proxied routes and the
 * gateway's own endpoints. Plugins that add hooks for proxied routes use fastify-plugin and
 * declare their dependencies, so a wrong order fails at start-up.
 */
/**
 * What every concern stands on: readiness registry, error shape, request id and access log,
 * shared stores, CORS, docs (it must see every route added after it), the /health summary map and
 * the metrics seam (`metrics` replaces the no-op; plugin tests pass a recorder). Exported so a
 * test can assemble one concern on the same base.
 */
export async function registerInfrastructure (app: FastifyInstance, env: GatewayEnv, metrics: GatewayMetrics = noopMetrics): Promise<void> {
  await app.register(readiness)
  await app.register(errorHandler)
  await app.register(requestContext)
  await app.register(redis, { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX })
  if (env.CORS_ORIGINS !== undefined) {
    const origins = env.CORS_ORIGINS.split(',').map(o => o.trim()).filter(Boolean)
    await app.register(cors, { origin: origins.includes('*') ? '*' : origins, optionsSuccessStatus: 204, maxAge: 600 })
  }
  await app.register(docs)
  app.decorate('healthSummary', new Map<string, () => unknown>())
  app.decorate('metrics', metrics)
}

export async function buildApp (opts: AppOptions): Promise<FastifyInstance> {
  const { env, config } = opts
  const app = Fastify({
    logger: opts.logger ?? false,
    genReqId,
    requestIdHeader: false,
    // request-context writes one access line per request instead of Fastify's two.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: env.BODY_LIMIT,
    // Fastify accepts a hop count at run time; its types only list the other forms.
    trustProxy: env.TRUST_PROXY as boolean | string,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 500 }
  })

  await registerInfrastructure(app, env)

  // Per-request concerns, in Kong's priority order: each must see the request before the next.
  // metrics (issue 8): first, so its onRoute sees every route and its onResponse every request
  await app.register(metrics)
  // tracking (issue 6): records every outcome below it, so it comes first
  await app.register(tracking, {
    enabled: env.TRACKING_ENABLED,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    maxBody: env.TRACKING_MAX_BODY,
    queueMax: env.TRACKING_QUEUE_MAX,
    queueMaxBytes: env.TRACKING_QUEUE_MAX_BYTES,
    batchSize: env.TRACKING_BATCH_SIZE,
    flushInterval: env.TRACKING_FLUSH_INTERVAL,
    retention: env.TRACKING_RETENTION
  })
  // auth (issue 3): identity for everything after it
  await app.register(auth, authOptions(env))
  // rate limit (issue 4): keyed by identity
  await app.register(rateLimit, rateLimitOptions(env))
  // cache (issue 5): keyed by identity, answers before the proxy
  await app.register(cache, { ttl: env.CACHE_TTL, maxEntrySize: env.CACHE_MAX_ENTRY, maxMemory: env.CACHE_MAX_MEMORY, keyPrefix: env.REDIS_KEY_PREFIX })

  // resilience (issue 7): targets, balancing, breakers, health checks, registry; read by the proxy,
  // /health, /metrics and /admin, so it sits outside the proxy's encapsulated context.
  await app.register(upstream, { config, upstreamTimeout: env.UPSTREAM_TIMEOUT, registryRefreshInterval: env.REGISTRY_REFRESH_INTERVAL, keyPrefix: env.REDIS_KEY_PREFIX })
  await app.register(proxy, { config, upstreamTimeout: env.UPSTREAM_TIMEOUT, bodyLimit: env.BODY_LIMIT })
  await app.register(rootRoute)
  await app.register(healthRoutes)
  await app.register(metricsRoute)
  await app.register(adminRoutes, { prefix: '/admin', token: env.ADMIN_TOKEN, routes: [adminCacheRoutes, adminServices, adminRequestsRoutes] })
  return app
}
