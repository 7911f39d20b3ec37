import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import pino from 'pino'
import type { BenchScenario } from '../scenario.ts'
import { buildApp, REDACTED_LOG_PATHS } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import { NO_TRACKING } from '../plain-route.ts'

// As portico-plain (bench/scenarios/core.ts) but limited: tracking off when that concern exists.
const NEVER = '1000000000'

/**
 * The plain route with a Redis-backed rate limit that never triggers: what the limiter's hook
 * and its Redis script (one call per event-loop turn) add to the plain proxy. Issue 4 asks for ≥ 0.85 of portico-plain.
 */
export const scenarios: BenchScenario[] = [
  {
    name: 'rate-limit-redis',
    description: 'portico-plain with a Redis-backed fixed-window limit that never triggers',
    baseline: 'portico-plain',
    target: 0.85,
    async setup (ctx) {
      if (ctx.redisUrl === undefined) throw new Error('rate-limit-redis needs REDIS_URL')
      const prefix = `portico-bench:${randomUUID().slice(0, 8)}`
      const app = await buildApp({
        env: loadEnv({ LOG_LEVEL: 'warn', TRACKING_ENABLED: 'false', REDIS_URL: ctx.redisUrl, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_MAX: NEVER, RATE_LIMIT_TIERS: `anonymous:${NEVER}` }),
        config: parseConfig(JSON.stringify({
          services: { bench: { url: ctx.upstreamUrl } },
          routes: [{ path: '/bench', methods: ['GET'], service: 'bench', ...NO_TRACKING }]
        }), 'bench-rate-limit.json'),
        logger: { level: 'warn', redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' }, stream: pino.destination({ dest: '/dev/null', sync: true }) }
      })
      const url = await app.listen({ host: '127.0.0.1', port: 0 })
      return {
        url,
        path: '/bench',
        async close () {
          const redis = new Redis(ctx.redisUrl!)
          try {
            const keys = await redis.keys(prefix + ':*')
            if (keys.length) await redis.del(...keys)
          } finally {
            redis.disconnect()
          }
          await app.close()
        }
      }
    }
  }
]
