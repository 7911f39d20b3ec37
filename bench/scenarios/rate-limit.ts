import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import type { BenchScenario } from '../scenario.ts'
import { buildApp } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'

/**
 * The plain route with a Redis-backed rate limit that never triggers: what one EVALSHA per
 * request (auto-pipelined) costs on top of the plain proxy. Issue 4 asks for ≥ 0.85 of it.
 */
export const scenarios: BenchScenario[] = [
  {
    name: 'rate-limit-redis',
    description: 'plain route, Redis-backed fixed-window limit that never triggers',
    baseline: 'portico-plain',
    target: 0.85,
    async setup (ctx) {
      if (ctx.redisUrl === undefined) throw new Error('rate-limit-redis needs REDIS_URL')
      const prefix = `portico-bench:rate-limit:${randomUUID().slice(0, 8)}`
      const app = await buildApp({
        env: loadEnv({ LOG_LEVEL: 'silent', REDIS_URL: ctx.redisUrl, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_MAX: '1000000000', RATE_LIMIT_TIERS: 'anonymous:1000000000' }),
        config: parseConfig(JSON.stringify({
          services: { bench: { url: ctx.upstreamUrl } },
          routes: [{ path: '/bench', methods: ['GET'], service: 'bench' }]
        }), 'bench-rate-limit.json')
      })
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      return {
        url,
        path: '/bench',
        async close () {
          await app.close()
          const redis = new Redis(ctx.redisUrl!)
          const keys = await redis.keys(prefix + ':*')
          if (keys.length) await redis.del(...keys)
          redis.disconnect()
        }
      }
    }
  }
]
