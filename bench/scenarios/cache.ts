import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import { buildApp } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import { PLAIN_ROUTE_OFF } from '../plain-route.ts'
import type { BenchContext, BenchScenario, BenchTarget } from '../scenario.ts'

/**
 * Cache hits against the plain proxied route (`portico-plain`): the issue asks hits to be at
 * least 1.2× its throughput. The entry is warmed (and checked to be a HIT) before the load starts.
 */
async function cachedGateway (ctx: BenchContext, redisUrl: string | undefined): Promise<BenchTarget> {
  const prefix = `portico-bench-cache-${randomUUID().slice(0, 8)}`
  const env = loadEnv({ LOG_LEVEL: 'silent', TRACKING_ENABLED: 'false', REDIS_KEY_PREFIX: prefix, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) })
  const config = parseConfig(JSON.stringify({
    services: { bench: { url: ctx.upstreamUrl } },
    routes: [{ path: '/bench', methods: ['GET'], service: 'bench', cache: { ttl: '1h' }, ...PLAIN_ROUTE_OFF }]
  }), 'bench-cache.json')
  const app = await buildApp({ env, config, logger: false })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  for (const expected of ['MISS', 'HIT']) {
    const res = await request(`${url}/bench`)
    await res.body.dump()
    if (res.headers['x-cache'] !== expected) {
      await app.close()
      throw new Error(`cache bench: expected X-Cache ${expected} while warming, got ${String(res.headers['x-cache'])} (status ${res.statusCode})`)
    }
  }
  return {
    url,
    path: '/bench',
    async close () {
      if (redisUrl !== undefined) {
        // Bench keys only: their own prefix, scanned once at the end of the run.
        const keys: string[] = []
        for await (const batch of app.redis.scanStream({ match: `${prefix}:*`, count: 1000 })) keys.push(...(batch as string[]))
        if (keys.length > 0) await app.redis.del(...keys)
      }
      await app.close()
    }
  }
}

export const scenarios: BenchScenario[] = [
  {
    name: 'cache-hit-redis',
    description: 'GET of a route with `cache` answered from Redis (every request a HIT)',
    baseline: 'portico-plain',
    target: 1.2,
    async setup (ctx) {
      if (ctx.redisUrl === undefined) throw new Error('cache-hit-redis needs Redis: set REDIS_URL')
      return await cachedGateway(ctx, ctx.redisUrl)
    }
  },
  {
    name: 'cache-hit-memory',
    description: 'GET of a route with `cache` answered from the in-process store (every request a HIT)',
    baseline: 'portico-plain',
    target: 1.2,
    setup: async (ctx) => await cachedGateway(ctx, undefined)
  }
]
