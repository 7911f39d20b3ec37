import Fastify from 'fastify'
import httpProxy from '@fastify/http-proxy'
import pino from 'pino'
import { buildApp, REDACTED_LOG_PATHS } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import type { BenchContext, BenchScenario, BenchTarget } from '../scenario.ts'
import { PLAIN_ROUTE_OFF } from '../plain-route.ts'

/** One plain route to the shared upstream: no schema, no auth, no rate limit, no cache, no tracking. */
function plainConfig (upstreamUrl: string) {
  return parseConfig(JSON.stringify({
    services: { bench: { url: upstreamUrl } },
    routes: [{ path: '/bench', methods: ['GET'], service: 'bench', ...PLAIN_ROUTE_OFF }]
  }), 'bench-core.json')
}

async function portico (ctx: BenchContext, logLevel: 'warn' | 'info'): Promise<BenchTarget> {
  // Nothing shared: memory stores (no REDIS_URL), and no tracking database.
  const env = loadEnv({ LOG_LEVEL: logLevel, TRACKING_ENABLED: 'false' })
  const app = await buildApp({
    env,
    config: plainConfig(ctx.upstreamUrl),
    // As server.ts configures it, but to /dev/null: the cost of formatting and writing a line
    // per request without a terminal or log shipper in the measurement.
    logger: { level: logLevel, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' }, stream: pino.destination({ dest: '/dev/null', sync: true }) }
  })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, path: '/bench', close: () => app.close() }
}

export const scenarios: BenchScenario[] = [
  {
    name: 'direct',
    description: 'autocannon straight to the upstream: the ceiling on this machine',
    async setup (ctx) {
      return { url: ctx.upstreamUrl, path: '/bench', close: async () => {} }
    }
  },
  {
    name: 'bare-proxy',
    description: 'bare Fastify 5 + @fastify/http-proxy with defaults, no logger: the baseline a gateway is held to',
    baseline: 'direct',
    async setup (ctx) {
      const app = Fastify({ logger: false })
      await app.register(httpProxy, { upstream: ctx.upstreamUrl })
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      return { url, path: '/bench', close: () => app.close() }
    }
  },
  {
    name: 'portico-plain',
    description: 'Portico (buildApp) with one plain route, LOG_LEVEL=warn (no per-request log line)',
    baseline: 'bare-proxy',
    target: 0.90,
    setup: (ctx) => portico(ctx, 'warn')
  },
  {
    name: 'portico-plain-logged',
    description: 'as portico-plain with LOG_LEVEL=info (the default): one access line per request, written to /dev/null',
    baseline: 'bare-proxy',
    setup: (ctx) => portico(ctx, 'info')
  }
]
