import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import type { KeyValueStore } from '../../services/store/types.ts'
import { RedisPluginOptionsSchema, type RedisPluginOptions } from '../../schemas/infrastructure.ts'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
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

export type { RedisPluginOptions }

// A gateway must not queue requests behind a Redis that went away: commands fail within a second
// and each concern decides what failing means (fail open, BYPASS, 503).
const REDIS_COMMAND_TIMEOUT_MS = 1000
const REDIS_CONNECT_TIMEOUT_MS = 2000

async function redisPlugin (app: FastifyInstance, rawOpts: RedisPluginOptions): Promise<void> {
  const opts = checkPluginOptions('portico-redis', RedisPluginOptionsSchema, rawOpts)
  if (opts.url === undefined) {
    const store = new MemoryStore({ prefix: `${opts.keyPrefix}:` })
    app.decorate('store', store)
    app.decorate('storeIsShared', false)
    app.addHook('onClose', async () => { await store.close() })
    return
  }
  const client = new Redis(opts.url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (times: number) => Math.min(times * 200, 2000)
  })
  // ioredis emits 'error' on every failed reconnect; without a listener Node prints each one.
  client.on('error', (err: Error) => app.log.debug({ err }, 'redis connection error'))
  await connectOrExplain(client, opts.url)
  await app.register(fastifyRedis, { client })
  // QUIT needs a live connection: during an outage it would reject (and an offline client would
  // keep retrying), so close by disconnecting unless Redis is there to say goodbye to.
  app.addHook('onClose', async () => {
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect())
    else client.disconnect()
  })
  app.decorate('store', new RedisStore(app.redis, `${opts.keyPrefix}:`))
  app.decorate('storeIsShared', true)
  app.readiness.add('redis', async () => { await app.redis.ping() })
}

/**
 * Start-up needs Redis once (after that, outages are each concern's to survive): a clear message
 * naming the URL (password hidden) beats Fastify's plugin timeout.
 */
async function connectOrExplain (client: Redis, url: string): Promise<void> {
  let cause: Error | undefined
  const remember = (err: Error) => { cause = err }
  client.once('error', remember)
  try {
    await client.connect()
  } catch (err) {
    client.disconnect()
    const shown = new URL(url)
    if (shown.password) shown.password = '***'
    throw new Error(`cannot reach Redis at ${shown.href} (REDIS_URL): ${(cause ?? err as Error).message}`)
  } finally {
    client.off('error', remember)
  }
}

export default fp(redisPlugin, { name: 'portico-redis', fastify: '5.x', dependencies: ['portico-readiness'] })
