import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import type { FastifyInstance } from 'fastify'
import type { KeyValueStore } from '../../services/store/types.ts'
import { MemoryStore } from '../../services/store/memory-store.ts'
import { RedisStore } from '../../services/store/redis-store.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared key-value store: Redis when REDIS_URL is set, else in-process memory. Use `child(ns)`. */
    store: KeyValueStore
    /** True when `store` (and `redis`) are shared with other instances through Redis. */
    storeIsShared: boolean
  }
}

export interface RedisPluginOptions {
  /** redis:// or rediss:// URL; absent = memory stores. */
  url?: string
  /** Prefix of every key Portico writes. */
  keyPrefix: string
}

// A gateway must not queue requests behind a Redis that went away: commands fail within a second
// and each concern decides what failing means (fail open, BYPASS, 503).
const REDIS_COMMAND_TIMEOUT_MS = 1000
const REDIS_CONNECT_TIMEOUT_MS = 2000

async function redisPlugin (app: FastifyInstance, opts: RedisPluginOptions): Promise<void> {
  if (opts.url === undefined) {
    const store = new MemoryStore({ prefix: `${opts.keyPrefix}:` })
    app.decorate('store', store)
    app.decorate('storeIsShared', false)
    app.addHook('onClose', async () => { await store.close() })
    return
  }
  await app.register(fastifyRedis, {
    url: opts.url,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(times * 200, 2000)
  })
  // ioredis emits 'error' on every failed reconnect; without a listener Node prints each one.
  app.redis.on('error', (err: Error) => app.log.debug({ err }, 'redis connection error'))
  app.decorate('store', new RedisStore(app.redis, `${opts.keyPrefix}:`))
  app.decorate('storeIsShared', true)
  app.readiness.add('redis', async () => { await app.redis.ping() })
}

export default fp(redisPlugin, { name: 'portico-redis', fastify: '5.x', dependencies: ['portico-readiness'] })
