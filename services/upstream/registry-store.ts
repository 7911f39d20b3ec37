import type { Redis } from 'ioredis'

/** A target registered at run time, with when its last heartbeat runs out (ms since epoch, local clock). */
export interface RegisteredTarget {
  url: string
  expiresAt: number
}

/**
 * Where run-time registered targets live. With Redis every gateway instance reads the same set,
 * so an upstream that heartbeats to any one instance is routed to by all of them; without it
 * the registry is this process's memory. A target disappears when `ttlMs` passes without a
 * new heartbeat.
 */
export interface TargetRegistryStore {
  /** Registers `url` for `service`, or renews it, for `ttlMs`; resolves with its expiry. */
  heartbeat (service: string, url: string, ttlMs: number): Promise<number>
  /** The targets of `service` whose heartbeat has not run out. */
  list (service: string): Promise<RegisteredTarget[]>
  /** Removes `url` at once; resolves true when it was registered. */
  remove (service: string, url: string): Promise<boolean>
  close (): Promise<void>
}

export class MemoryRegistryStore implements TargetRegistryStore {
  private readonly services = new Map<string, Map<string, number>>()

  async heartbeat (service: string, url: string, ttlMs: number): Promise<number> {
    let targets = this.services.get(service)
    if (targets === undefined) this.services.set(service, targets = new Map())
    const expiresAt = Date.now() + ttlMs
    targets.set(url, expiresAt)
    return expiresAt
  }

  async list (service: string): Promise<RegisteredTarget[]> {
    const targets = this.services.get(service)
    if (targets === undefined) return []
    const now = Date.now()
    const out: RegisteredTarget[] = []
    for (const [url, expiresAt] of targets) {
      if (expiresAt > now) out.push({ url, expiresAt })
      else targets.delete(url)
    }
    return out
  }

  async remove (service: string, url: string): Promise<boolean> {
    return this.services.get(service)?.delete(url) ?? false
  }

  async close (): Promise<void> {
    this.services.clear()
  }
}

// One sorted set per service: member = URL, score = expiry on Redis's own clock (TIME), so
// instances whose clocks disagree still agree on what has expired. The key itself expires with
// its last member, so a service nobody heartbeats any more leaves nothing behind.
const HEARTBEAT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], expires, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1000)
return {tostring(now), tostring(expires)}
`
// Read-only: expired members are filtered here and trimmed by the next heartbeat.
const LIST_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
table.insert(live, 1, tostring(now))
return live
`

interface RegistryCommands {
  porticoRegistryHeartbeat (key: string, url: string, ttlMs: number): Promise<[string, string]>
  porticoRegistryList (key: string): Promise<string[]>
}

/**
 * Redis implementation: two Lua scripts registered once per client (`defineCommand`, sent as
 * EVALSHA). Expiry times are converted from Redis's clock to this process's clock on the way out.
 */
export class RedisRegistryStore implements TargetRegistryStore {
  private readonly redis: Redis & RegistryCommands

  constructor (redis: Redis, private readonly prefix: string) {
    const r = redis as Redis & Partial<RegistryCommands>
    if (typeof r.porticoRegistryHeartbeat !== 'function') {
      redis.defineCommand('porticoRegistryHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_LUA })
      redis.defineCommand('porticoRegistryList', { numberOfKeys: 1, lua: LIST_LUA })
    }
    this.redis = redis as Redis & RegistryCommands
  }

  async heartbeat (service: string, url: string, ttlMs: number): Promise<number> {
    const [now, expires] = await this.redis.porticoRegistryHeartbeat(this.prefix + service, url, Math.ceil(ttlMs))
    return Date.now() + (Number(expires) - Number(now))
  }

  async list (service: string): Promise<RegisteredTarget[]> {
    const reply = await this.redis.porticoRegistryList(this.prefix + service)
    const redisNow = Number(reply[0])
    const localNow = Date.now()
    const out: RegisteredTarget[] = []
    for (let i = 1; i < reply.length; i += 2) {
      out.push({ url: reply[i], expiresAt: localNow + (Number(reply[i + 1]) - redisNow) })
    }
    return out
  }

  async remove (service: string, url: string): Promise<boolean> {
    return (await this.redis.zrem(this.prefix + service, url)) > 0
  }

  async close (): Promise<void> {}
}
