import type { Redis } from 'ioredis'
import type { KeyValueStore } from './types.ts'

/**
 * Redis-backed store. The client is owned by whoever created it (the redis plugin closes it);
 * `close()` here only detaches. Values go in and out as Buffers (`getBuffer`), never re-encoded.
 */
export class RedisStore implements KeyValueStore {
  constructor (private readonly redis: Redis, private readonly prefix: string) {}

  async get (key: string): Promise<Buffer | null> {
    return await this.redis.getBuffer(this.prefix + key)
  }

  async set (key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    if (ttlMs > 0) await this.redis.set(this.prefix + key, value, 'PX', ttlMs)
    else await this.redis.set(this.prefix + key, value)
  }

  async delete (key: string): Promise<boolean> {
    return (await this.redis.del(this.prefix + key)) > 0
  }

  child (namespace: string): KeyValueStore {
    return new RedisStore(this.redis, `${this.prefix}${namespace}:`)
  }

  async close (): Promise<void> {}
}
