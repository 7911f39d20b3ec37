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
