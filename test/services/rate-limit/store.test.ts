import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { REDIS_URL, uniquePrefix, type TestContext } from '../../helper.ts'
import type { RateLimitAlgorithm, RateLimitStore } from '../../../services/rate-limit/types.ts'
import { MemoryRateLimitStore } from '../../../services/rate-limit/memory-store.ts'
import { RedisRateLimitStore } from '../../../services/rate-limit/redis-store.ts'
import { gcra } from '../../../services/rate-limit/gcra.ts'
import { parseTiers, tierLimits } from '../../../services/rate-limit/tiers.ts'

/** One contract, run over every implementation × algorithm (Kong runs one spec over its policies). */
interface Impl {
  name: string
  skip: string | false
  /** A store; `shared` gives a second store over the same state (another instance). */
  make (t: TestContext, algorithm: RateLimitAlgorithm): Promise<{ store: RateLimitStore, shared: () => Promise<RateLimitStore> }>
}

async function redisClient (t: TestContext): Promise<Redis> {
  const redis = new Redis(REDIS_URL!, { lazyConnect: true, enableAutoPipelining: true })
  await redis.connect()
  t.teardown(() => { redis.disconnect() })
  return redis
}

const impls: Impl[] = [
  {
    name: 'memory',
    skip: false,
    async make (_t, algorithm) {
      const store = new MemoryRateLimitStore({ algorithm })
      return { store, shared: async () => store }
    }
  },
  {
    name: 'redis',
    skip: REDIS_URL ? false : 'needs REDIS_URL',
    async make (t, algorithm) {
      const prefix = uniquePrefix('rl-store') + ':'
      const redis = await redisClient(t)
      t.teardown(async () => {
        const keys = await redis.keys(prefix + '*')
        if (keys.length) await redis.del(...keys)
      })
      return {
        store: new RedisRateLimitStore(redis, prefix, algorithm),
        shared: async () => new RedisRateLimitStore(await redisClient(t), prefix, algorithm)
      }
    }
  }
]

for (const impl of impls) {
  for (const algorithm of ['fixed-window', 'gcra'] as const) {
    t.test(`${impl.name} ${algorithm}`, { skip: impl.skip }, async (t) => {
      t.test('lets max through, refuses the next, counts keys apart', async (t) => {
        const { store } = await impl.make(t, algorithm)
        const first = await store.hit('a', 60_000, 3)
        t.equal(first.current, 1)
        t.ok(first.ttl > 0 && first.ttl <= 60_000, `ttl ${first.ttl}`)
        t.equal((await store.hit('a', 60_000, 3)).current, 2)
        t.equal((await store.hit('a', 60_000, 3)).current, 3)
        const refused = await store.hit('a', 60_000, 3)
        t.ok(refused.current > 3, 'fourth is over the limit')
        t.ok(refused.ttl > 0 && refused.ttl <= 60_000, `retry in ${refused.ttl} ms`)
        t.equal((await store.hit('b', 60_000, 3)).current, 1, 'another key has its own count')
      })

      t.test('300 concurrent hits against max 100: exactly 100 pass', async (t) => {
        const { store } = await impl.make(t, algorithm)
        const hits = await Promise.all(Array.from({ length: 300 }, () => store.hit('burst', 60_000, 100)))
        t.equal(hits.filter(h => h.current <= 100).length, 100)
      })

      t.test('hits of one turn on several keys and limits count as if sent one by one', async (t) => {
        const { store } = await impl.make(t, algorithm)
        // Interleaved in one synchronous burst: two keys, and one key under two different maxima
        // (a header key shared by two tiers), each in its own order.
        const calls: [string, number][] = []
        for (let i = 0; i < 6; i++) calls.push(['x', 4], ['y', 2], ['z', i % 2 === 0 ? 3 : 5])
        const hits = await Promise.all(calls.map(([key, max]) => store.hit(key, 60_000, max)))
        const passed = (key: string, max: number): number => hits.filter((h, i) => calls[i][0] === key && calls[i][1] === max && h.current <= max).length
        t.equal(passed('x', 4), 4, 'x: max 4 of 6')
        t.equal(passed('y', 2), 2, 'y: max 2 of 6')
        t.same(hits.filter((_h, i) => calls[i][0] === 'x').map(h => h.current).slice(0, 4), [1, 2, 3, 4], 'x counts 1, 2, 3, 4 in request order')
        for (const h of hits) t.ok(h.ttl > 0 && h.ttl <= 60_000, `ttl ${h.ttl}`)
      })

      t.test('two instances sharing the state alternate under one limit', async (t) => {
        const { store, shared } = await impl.make(t, algorithm)
        const other = await shared()
        let passed = 0
        for (let i = 0; i < 20; i++) {
          const hit = await (i % 2 === 0 ? store : other).hit('shared', 60_000, 10)
          if (hit.current <= 10) passed++
        }
        t.equal(passed, 10)
      })

      t.test('the limit comes back after the window', async (t) => {
        const { store } = await impl.make(t, algorithm)
        const window = 300
        for (let i = 0; i < 3; i++) t.ok((await store.hit('w', window, 3)).current <= 3)
        const refused = await store.hit('w', window, 3)
        t.ok(refused.current > 3)
        await sleep(refused.ttl + 20)
        t.ok((await store.hit('w', window, 3)).current <= 3, 'allowed again once the refusal ttl has passed')
        await sleep(window + 20)
        const again = await Promise.all([1, 2, 3, 4].map(() => store.hit('w', window, 3)))
        t.equal(again.filter(h => h.current <= 3).length, 3, 'a whole window later: the full limit, no more')
      })

      // The fixed window's known weakness (issue 4 §6): max at the end of one window and max at
      // the start of the next pass back to back. GCRA refills at max/window, so a short span
      // sees about max. Measured here, and documented in docs/rate-limit.md.
      t.test('burst across a window boundary', async (t) => {
        const { store } = await impl.make(t, algorithm)
        const window = 600
        const max = 20
        const start = performance.now()
        t.ok((await store.hit('edge', window, max)).current === 1, 'first request opens the window')
        await sleep(window - 60)
        const spanStart = performance.now()
        const late = await Promise.all(Array.from({ length: max }, () => store.hit('edge', window, max)))
        const msToBoundary = start + window - performance.now()
        await sleep(Math.max(0, msToBoundary) + 25)
        const early = await Promise.all(Array.from({ length: max }, () => store.hit('edge', window, max)))
        const span = Math.round(performance.now() - spanStart)
        const passed = [...late, ...early].filter(h => h.current <= max).length
        t.comment(`${algorithm}: ${passed} of ${2 * max} passed within ${span} ms across the boundary (max ${max} per ${window} ms)`)
        if (algorithm === 'fixed-window') {
          t.equal(passed, 2 * max - 1, 'fixed window: almost 2x max in a short span')
        } else {
          // Full bucket (max) plus what refills in the ~100 ms span: max/window per ms.
          t.ok(passed <= max + Math.ceil(span * max / window) + 1, `gcra: about max, got ${passed}`)
          t.ok(passed >= max, 'gcra: at least the burst')
        }
      })
    })
  }
}

t.test('redis store: one script call per event-loop turn, whatever the keys', { skip: REDIS_URL ? false : 'needs REDIS_URL' }, async (t) => {
  for (const algorithm of ['fixed-window', 'gcra'] as const) {
    const redis = await redisClient(t)
    const prefix = uniquePrefix('rl-batch') + ':'
    t.teardown(async () => {
      const keys = await redis.keys(prefix + '*')
      if (keys.length) await redis.del(...keys)
    })
    const store = new RedisRateLimitStore(redis, prefix, algorithm)
    await store.hit('warm-up', 60_000, 5) // loads the script (EVALSHA, then EVAL once)
    // Count the scripts that reach the connection.
    let calls = 0
    const send = redis.sendCommand.bind(redis)
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      if (command.name === 'evalsha' || command.name === 'eval') calls++
      return (send as (...args: unknown[]) => unknown)(command, ...rest)
    }) as typeof redis.sendCommand
    const first = await Promise.all(Array.from({ length: 50 }, (_, i) => store.hit(`k${i % 7}`, 60_000, 5)))
    t.equal(calls, 1, `${algorithm}: 50 hits on 7 keys in one turn, one call`)
    t.equal(first.filter(h => h.current <= 5).length, 35, `${algorithm}: 5 of each key's 7 or 8 hits pass`)
    await store.hit('k0', 60_000, 5)
    t.equal(calls, 2, 'the next turn, its own call')
  }
})

t.test('gcra arithmetic is exact at the burst edge', async (t) => {
  let tat: number | null = null
  const now = 1_700_000_000_000_000
  for (let i = 1; i <= 7; i++) {
    const step = gcra(now, tat, 1000, 7)
    t.equal(step.hit.current, i, `request ${i} passes`)
    tat = step.tat
  }
  const over = gcra(now, tat, 1000, 7)
  t.equal(over.tat, null, 'eighth refused, state unchanged')
  t.equal(over.hit.ttl, 143, 'retry after one emission interval (1000/7 ms, rounded up)')
  t.equal(gcra(now + 142_857, tat, 1000, 7).hit.current, 7, 'one interval later: one more')
})

t.test('tiers', async (t) => {
  t.same(parseTiers('anonymous:50, premium : 1000'), { tiers: { anonymous: 50, premium: 1000 } })
  t.same(parseTiers(''), { tiers: {} })
  t.match(parseTiers('anonymous=50'), { error: /"anonymous=50" is not tier:max/ })
  t.match(parseTiers('a:1,a:2'), { error: /listed twice/ })
  t.match(parseTiers('a:0'), { error: /at least 1/ })
  const limit = tierLimits({ anonymous: 5, premium: 50 }, 10)
  t.equal(limit('premium'), 50)
  t.equal(limit('gold'), 10, 'an unknown tier gets the default')
  t.equal(limit('__proto__'), 10)
})

t.test('memory store drops the oldest window beyond maxKeys', async (t) => {
  const store = new MemoryRateLimitStore({ algorithm: 'fixed-window', maxKeys: 3 })
  for (const k of ['a', 'b', 'c', 'd']) await store.hit(k, 60_000, 1)
  t.equal(store.size, 3)
  t.equal((await store.hit('a', 60_000, 1)).current, 1, 'a was dropped: counted afresh')
  t.equal((await store.hit('d', 60_000, 1)).current, 2, 'd was kept')
})
