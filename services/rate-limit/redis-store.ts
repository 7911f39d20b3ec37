import type { Redis } from 'ioredis'
import type { RateLimitAlgorithm, RateLimitHit, RateLimitStore } from './types.ts'

// Fixed window: INCR and the window's TTL in one atomic step. The PTTL < 0 branch repairs a
// key that lost its expiry (never lets a counter live forever).
const FIXED_WINDOW_LUA = `
local current = redis.call('INCR', KEYS[1])
local window = tonumber(ARGV[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], window)
  return {current, window}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
return {current, ttl}
`

// GCRA, the same arithmetic as gcra.ts, on Redis's own clock (TIME) so instances with skewed
// clocks still share one bucket. Integer microseconds: exact in a double (< 2^53).
const GCRA_LUA = `
local window = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = math.max(1, math.floor(window * 1000 / max))
local burst = interval * max
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local newTat = tat + interval
local allowAt = newTat - burst
if now < allowAt then
  return {max + 1, math.ceil((allowAt - now) / 1000)}
end
local ttl = math.ceil((newTat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', ttl)
local remaining = math.floor((burst - (newTat - now)) / interval)
return {max - remaining, ttl}
`

const toHit = (reply: [number, number]): RateLimitHit => ({ current: reply[0], ttl: reply[1] })

type HitCommand = (key: string, windowMs: number, max: number) => Promise<[number, number]>

/**
 * Rate-limit state in Redis, shared by every instance using the same `prefix`. Each hit is one
 * EVALSHA round trip (ioredis `defineCommand` loads the script once and falls back to EVAL after
 * a SCRIPT FLUSH); auto-pipelining batches concurrent hits on one connection.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly algorithm: RateLimitAlgorithm
  private readonly command: HitCommand

  /** `prefix` is prepended to every key as is (e.g. `gateway:rate-limit:`). */
  constructor (private readonly redis: Redis, private readonly prefix: string, algorithm: RateLimitAlgorithm) {
    this.algorithm = algorithm
    const name = algorithm === 'gcra' ? 'porticoRateLimitGcra' : 'porticoRateLimitFixed'
    const client = redis as unknown as Record<string, HitCommand | undefined>
    if (client[name] === undefined) {
      redis.defineCommand(name, { numberOfKeys: 1, lua: algorithm === 'gcra' ? GCRA_LUA : FIXED_WINDOW_LUA })
    }
    this.command = (client[name] as HitCommand).bind(redis)
  }

  hit (key: string, windowMs: number, max: number): Promise<RateLimitHit> {
    return this.command(this.prefix + key, windowMs, max).then(toHit)
  }

  async close (): Promise<void> {}
}
