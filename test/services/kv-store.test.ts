import t from 'tap'
import { Redis } from 'ioredis'
import type { KeyValueStore } from '../../services/store/types.ts'
import { MemoryStore } from '../../services/store/memory-store.ts'
import { RedisStore } from '../../services/store/redis-store.ts'
import { REDIS_URL, uniquePrefix } from '../helper.ts'

/** One contract, every implementation (Kong runs one spec over all its policies). */
const implementations: Array<[string, () => Promise<{ store: KeyValueStore, close: () => Promise<void> }>, string | false]> = [
  ['memory', async () => ({ store: new MemoryStore({ prefix: 'p:' }), close: async () => {} }), false],
  ['redis', async () => {
    const redis = new Redis(REDIS_URL!)
    const prefix = uniquePrefix('kv') + ':'
    return {
      store: new RedisStore(redis, prefix),
      close: async () => {
        const keys = await redis.keys(prefix + '*')
        if (keys.length) await redis.del(...keys)
        redis.disconnect()
      }
    }
  }, REDIS_URL ? false : 'skipped: set REDIS_URL to run the Redis store contract']
]

for (const [name, make, skip] of implementations) {
  t.test(`KeyValueStore contract: ${name}`, { skip }, async (t) => {
    const { store, close } = await make()
    t.teardown(close)
    t.equal(await store.get('missing'), null)
    await store.set('a', 'text', 0)
    t.same(await store.get('a'), Buffer.from('text'))
    const bytes = Buffer.from([0, 255, 1, 128])
    await store.set('bin', bytes, 0)
    t.same(await store.get('bin'), bytes, 'binary values round-trip untouched')
    await store.set('short', 'x', 40)
    t.same(await store.get('short'), Buffer.from('x'))
    await new Promise((resolve) => setTimeout(resolve, 80))
    t.equal(await store.get('short'), null, 'expires after its TTL')
    t.equal(await store.delete('a'), true)
    t.equal(await store.delete('a'), false)
    t.equal(await store.get('a'), null)
    const child = store.child('ns')
    await child.set('k', 'child', 0)
    t.equal(await store.get('k'), null, 'a child namespace is separate')
    t.same(await store.get('ns:k'), Buffer.from('child'), 'under <namespace>:')
    t.same(await child.child('deeper').get('k'), null)
  })
}

t.test('memory store is bounded: least recently used entries go first', async (t) => {
  const store = new MemoryStore({ maxEntries: 3 })
  await store.set('a', '1', 0)
  await store.set('b', '2', 0)
  await store.set('c', '3', 0)
  await store.get('a')
  await store.set('d', '4', 0)
  t.equal(await store.get('b'), null, 'b was least recently used')
  t.ok(await store.get('a'))
  t.ok(await store.get('d'))
})
