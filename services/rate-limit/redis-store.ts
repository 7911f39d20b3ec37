import type { Redis } from 'ioredis'
import type { RateLimitAlgorithm, RateLimitHit, RateLimitStore } from './types.ts'

// Both scripts take the hits of one event-loop turn: KEYS are the counters, ARGV holds
// (window ms, max, hits) per key, and the reply is (current, ttl) per hit, in order. Running n
// hits of a key inside one script is the same as n scripts in a row: Redis runs a script
// atomically, so batching changes the number of round trips, never a result.

// Fixed window: INCRBY and the window's TTL in one atomic step; the n hits of a key are
// current-n+1 … current. The PTTL < 0 branch repairs a key that lost its expiry (never lets a
// counter live forever).
const FIXED_WINDOW_LUA = `
local out = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i * 3 - 2])
  local n = tonumber(ARGV[i * 3])
  local current = redis.call('INCRBY', key, n)
  local ttl
  if current == n then
    redis.call('PEXPIRE', key, window)
    ttl = window
  else
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
  end
  for j = n - 1, 0, -1 do
    out[#out + 1] = current - j
    out[#out + 1] = ttl
  end
end
return out
`

// GCRA, the same arithmetic as gcra.ts, on Redis's own clock (TIME) so instances with skewed
// clocks still share one bucket. Integer microseconds: exact in a double (< 2^53). A refused hit
// changes nothing, so the hits after it in the batch are refused the same way.
const GCRA_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i * 3 - 2])
  local max = tonumber(ARGV[i * 3 - 1])
  local n = tonumber(ARGV[i * 3])
  local interval = math.max(1, math.floor(window * 1000 / max))
  local burst = interval * max
  local stored = tonumber(redis.call('GET', key))
  local tat = stored
  if tat == nil or tat < now then tat = now end
  for j = 1, n do
    local newTat = tat + interval
    local allowAt = newTat - burst
    if now < allowAt then
      out[#out + 1] = max + 1
      out[#out + 1] = math.ceil((allowAt - now) / 1000)
    else
      tat = newTat
      out[#out + 1] = max - math.floor((burst - (newTat - now)) / interval)
      out[#out + 1] = math.ceil((newTat - now) / 1000)
    end
  end
  if tat ~= stored and tat > now then
    redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
  end
end
return out
`

// A bound on one script's size; a turn with more distinct counters sends several scripts.
const MAX_KEYS_PER_CALL = 500

type BatchCommand = (numberOfKeys: number, ...args: (string | number)[]) => Promise<number[]>

/** The hits of one counter (key, window and max) in the current turn. */
interface Pending {
  key: string
  windowMs: number
  max: number
  waiters: { resolve: (hit: RateLimitHit) => void, reject: (err: Error) => void }[]
}

/**
 * Rate-limit state in Redis, shared by every instance using the same `prefix`. The hits of one
 * event-loop turn — every request parsed in one poll phase, whatever its key — go to Redis as
 * ONE script call (EVALSHA through ioredis `defineCommand`, which loads the script once and
 * falls back to EVAL after a SCRIPT FLUSH) and come back in one reply: one round trip per turn
 * instead of one per request, and a hot key costs one INCRBY for all its hits.
 *
 * Keys of one call may hash to different slots: a single Redis (or a primary), not Cluster.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly algorithm: RateLimitAlgorithm
  private readonly command: BatchCommand
  private pending = new Map<string, Pending>()
  private scheduled = false

  /** `prefix` is prepended to every key as is (e.g. `gateway:rate-limit:`). */
  constructor (redis: Redis, private readonly prefix: string, algorithm: RateLimitAlgorithm) {
    this.algorithm = algorithm
    const name = algorithm === 'gcra' ? 'porticoRateLimitGcraBatch' : 'porticoRateLimitFixedBatch'
    const client = redis as unknown as Record<string, BatchCommand | undefined>
    if (client[name] === undefined) {
      redis.defineCommand(name, { lua: algorithm === 'gcra' ? GCRA_LUA : FIXED_WINDOW_LUA })
    }
    this.command = (client[name] as BatchCommand).bind(redis)
    this.flush = this.flush.bind(this)
  }

  hit (key: string, windowMs: number, max: number): Promise<RateLimitHit> {
    return new Promise((resolve, reject) => {
      // One counter per key, window and max: a key whose max differs between requests (a header
      // key shared by two tiers) stays exact, as two entries the script runs in order.
      const id = `${windowMs}:${max}:${key}`
      let entry = this.pending.get(id)
      if (entry === undefined) {
        entry = { key: this.prefix + key, windowMs, max, waiters: [] }
        this.pending.set(id, entry)
      }
      entry.waiters.push({ resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        // setImmediate runs after the poll phase: every request read in this turn has hit by then.
        setImmediate(this.flush)
      }
    })
  }

  private flush (): void {
    this.scheduled = false
    const entries = [...this.pending.values()]
    this.pending = new Map()
    for (let i = 0; i < entries.length; i += MAX_KEYS_PER_CALL) this.send(entries.slice(i, i + MAX_KEYS_PER_CALL))
  }

  private send (entries: Pending[]): void {
    const keys: string[] = []
    const args: number[] = []
    for (const entry of entries) {
      keys.push(entry.key)
      args.push(entry.windowMs, entry.max, entry.waiters.length)
    }
    this.command(keys.length, ...keys, ...args).then(
      (reply) => {
        let at = 0
        for (const entry of entries) {
          for (const waiter of entry.waiters) {
            waiter.resolve({ current: reply[at], ttl: reply[at + 1] })
            at += 2
          }
        }
      },
      (err: Error) => {
        for (const entry of entries) for (const waiter of entry.waiters) waiter.reject(err)
      }
    )
  }

  async close (): Promise<void> {}
}
