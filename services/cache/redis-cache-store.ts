import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { PURGE_MARKER_TTL_MS, type CacheStore } from './types.ts'

// Stores an entry and indexes it, unless one of its indexes was purged since the fill began.
// KEYS: entry, n indexes, n purge markers. ARGV: value, ttl ms, since ms, now ms, n.
// Each index is a sorted set scored by expiry: expired members are pruned on every write, so an
// index holds only live entries and its size is a live count (ZCOUNT of the root index).
const SET_SCRIPT = `
local n = tonumber(ARGV[5])
local since = tonumber(ARGV[3])
for i = 1, n do
  local marker = redis.call('GET', KEYS[n + 1 + i])
  if marker and tonumber(marker) >= since then return 0 end
end
local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, n + 1 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  redis.call('ZADD', KEYS[i], now + ttl, KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1
`

// Deletes every entry of each index, the index itself, and leaves a purge marker for fills in flight.
// KEYS: n indexes, n markers, the root index. ARGV: now ms, marker ttl ms, n. Returns how many
// entries existed. Purged entries leave the root index too, so its ZCOUNT stays the live count;
// in other indexes they linger, harmlessly, until pruned by expiry or purged again.
const PURGE_SCRIPT = `
local n = tonumber(ARGV[3])
local root = KEYS[2 * n + 1]
local purged = 0
for i = 1, n do
  local members = redis.call('ZRANGEBYSCORE', KEYS[i], ARGV[1], '+inf')
  for j = 1, #members, 500 do
    local batch = { unpack(members, j, math.min(j + 499, #members)) }
    purged = purged + redis.call('UNLINK', unpack(batch))
    redis.call('ZREM', root, unpack(batch))
  end
  redis.call('UNLINK', KEYS[i])
  redis.call('SET', KEYS[n + i], ARGV[1], 'PX', ARGV[2])
end
return purged
`

const UNLOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

interface CacheCommands {
  porticoCacheSet (numKeys: number, ...args: Array<string | Buffer | number>): Promise<number>
  porticoCachePurge (numKeys: number, ...args: Array<string | number>): Promise<number>
  porticoCacheUnlock (key: string, token: string): Promise<number>
}

/**
 * The shared cache store. Layout under `<prefix>` (`<REDIS_KEY_PREFIX>:cache:`):
 * `<prefix><key>` the entry (binary), `<prefix>idx:<index>` a sorted set of entry keys,
 * `<prefix>purged:<index>` when that index was last purged, `<prefix>lock:<key>` the refresh lock.
 * A hit is one GET; a store and a purge are one Lua script each. Not for Redis Cluster (the
 * scripts touch keys of several slots). The client belongs to the redis plugin.
 */
export class RedisCacheStore implements CacheStore {
  private readonly redis: Redis & CacheCommands
  private readonly root: string

  constructor (redis: Redis, private readonly prefix: string) {
    const client = redis as Redis & Partial<CacheCommands>
    if (client.porticoCacheSet === undefined) {
      redis.defineCommand('porticoCacheSet', { lua: SET_SCRIPT })
      redis.defineCommand('porticoCachePurge', { lua: PURGE_SCRIPT })
      redis.defineCommand('porticoCacheUnlock', { lua: UNLOCK_SCRIPT, numberOfKeys: 1 })
    }
    this.redis = redis as Redis & CacheCommands
    this.root = `${prefix}idx:d:/`
  }

  async get (key: string): Promise<Buffer | null> {
    return await this.redis.getBuffer(this.prefix + key)
  }

  async set (key: string, value: Buffer, ttlMs: number, indexes: string[], since: number): Promise<boolean> {
    const keys = [this.prefix + key]
    for (const index of indexes) keys.push(`${this.prefix}idx:${index}`)
    for (const index of indexes) keys.push(`${this.prefix}purged:${index}`)
    const stored = await this.redis.porticoCacheSet(keys.length, ...keys, value, Math.max(1, Math.ceil(ttlMs)), since, Date.now(), indexes.length)
    return stored === 1
  }

  async purge (indexes: string[]): Promise<number> {
    if (indexes.length === 0) return 0
    const keys: string[] = []
    for (const index of indexes) keys.push(`${this.prefix}idx:${index}`)
    for (const index of indexes) keys.push(`${this.prefix}purged:${index}`)
    keys.push(this.root)
    return await this.redis.porticoCachePurge(keys.length, ...keys, Date.now(), PURGE_MARKER_TTL_MS, indexes.length)
  }

  async lock (key: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID()
    const ok = await this.redis.set(`${this.prefix}lock:${key}`, token, 'PX', ttlMs, 'NX')
    return ok === 'OK' ? token : null
  }

  async unlock (key: string, token: string): Promise<void> {
    await this.redis.porticoCacheUnlock(`${this.prefix}lock:${key}`, token)
  }

  async size (): Promise<number> {
    return await this.redis.zcount(this.root, Date.now(), '+inf')
  }

  async close (): Promise<void> {}
}
