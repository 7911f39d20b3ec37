import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { genReqId } from '../../plugins/request-context/index.ts'
import proxy from '../../plugins/proxy/index.ts'
import rateLimit, { rateLimitOptions } from '../../plugins/rate-limit/index.ts'
import healthRoutes from '../../routes/health.ts'
import { registerInfrastructure } from '../../app.ts'
import { noopMetrics, type GatewayMetrics } from '../../services/metrics/types.ts'
import { testConfig, testEnv, type TestContext } from '../helper.ts'

/**
 * The app as app.ts composes it around rate limiting, with a test identity plugin where auth
 * will be: `x-test-identity: <id>:<tier>` becomes a verified identity (no JWT here; the auth
 * plugin is another issue's). Header-trusting stays out: nothing else sets identity.
 */
const testIdentity = fp(async (app: FastifyInstance) => {
  app.addHook('onRequest', async (request) => {
    const given = request.headers['x-test-identity']
    if (typeof given !== 'string') return
    const [id, tier] = given.split(':')
    request.identity = { id, tier: tier ?? 'default', scopes: [], via: 'jwt' }
  })
}, { name: 'test-identity', dependencies: ['portico-request-context'] })

export interface RateLimitAppOptions {
  config: unknown
  env?: Record<string, string>
  logger?: object | false
  metrics?: Partial<GatewayMetrics>
  /** Plugin options beyond what the env gives (failOpen, hook). */
  plugin?: { failOpen?: boolean }
}

export async function buildRateLimitApp (t: TestContext, opts: RateLimitAppOptions): Promise<FastifyInstance> {
  const env = testEnv(opts.env)
  const config = testConfig(opts.config)
  const app = Fastify({ logger: opts.logger ?? false, genReqId, requestIdHeader: false, trustProxy: env.TRUST_PROXY as boolean | string })
  t.teardown(() => app.close())
  await registerInfrastructure(app, env, { ...noopMetrics, ...opts.metrics })
  await app.register(testIdentity)
  await app.register(rateLimit, { ...rateLimitOptions(env), ...opts.plugin })
  await app.register(proxy, { config, upstreamTimeout: env.UPSTREAM_TIMEOUT, bodyLimit: env.BODY_LIMIT })
  await app.register(healthRoutes)
  await app.ready()
  return app
}
