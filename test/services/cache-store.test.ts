import t from 'tap'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { MemoryCacheStore } from '../../services/cache/memory-cache-store.ts'
import { RedisCacheStore } from '../../services/cache/redis-cache-store.ts'
import { indexesOf, indexOfPattern } from '../../services/cache/patterns.ts'
import type { CacheStore } from '../../services/cache/types.ts'
import { REDIS_URL, uniquePrefix, type TestContext } from '../helper.ts'

// One contract, every implementation (as Kong runs one spec over its policies).
const implementations: Array<{ name: string, skip: string | false, make (t: TestContext): Promise<CacheStore> }> = [
  { name: 'memory', skip: false, make: async () => new MemoryCacheStore() },
  {
    name: 'redis',
    skip: REDIS_URL ? false : 'needs REDIS_URL',
    async make (t) {
      const redis = new Redis(REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 })
      await redis.connect()
      const prefix = `${uniquePrefix('cache-store')}:cache:`
      t.teardown(async () => {
        const keys = await redis.keys(`${prefix}*`)
        if (keys.length > 0) await redis.del(...keys)
        await redis.quit()
      })
      return new RedisCacheStore(redis, prefix)
    }
  }
]

const put = (store: CacheStore, path: string, query = '', value: Buffer = Buffer.from(path + query), ttl = 60_000, since = Date.now()) =>
  store.set(`GET ${path}${query}`, value, ttl, indexesOf(path)!, since)

for (const impl of implementations) {
  t.test(`${impl.name} cache store`, { skip: impl.skip }, async (t) => {
    t.test('binary values round-trip byte for byte; absent keys are null', async (t) => {
      const store = await impl.make(t)
      const value = Buffer.concat([randomBytes(1000), Buffer.from([0, 255, 0xc3, 0x28])])
      t.equal(await put(store, '/a', '?x=1', value), true)
      t.same(await store.get('GET /a?x=1'), value)
      t.equal(await store.get('GET /a?x=2'), null)
    })

    t.test('entries expire after their TTL', async (t) => {
      const store = await impl.make(t)
      await put(store, '/short', '', Buffer.from('v'), 200)
      t.same(await store.get('GET /short'), Buffer.from('v'))
      await sleep(250)
      t.equal(await store.get('GET /short'), null)
      t.equal(await store.size(), 0)
    })

    t.test('an exact pattern purges that path with any query, nothing below it', async (t) => {
      const store = await impl.make(t)
      await put(store, '/api/users')
      await put(store, '/api/users', '?page=2')
      await put(store, '/api/users/1')
      t.equal(await store.size(), 3)
      t.equal(await store.purge([indexOfPattern('/api/users')]), 2)
      t.equal(await store.get('GET /api/users'), null)
      t.equal(await store.get('GET /api/users?page=2'), null)
      t.not(await store.get('GET /api/users/1'), null)
      t.equal(await store.size(), 1)
    })

    t.test('/x/* purges everything below /x/ but not /x', async (t) => {
      const store = await impl.make(t)
      await put(store, '/api/users')
      await put(store, '/api/users/1')
      await put(store, '/api/users/1/orders', '?a=1')
      await put(store, '/api/usersettings')
      t.equal(await store.purge([indexOfPattern('/api/users/*')]), 2)
      t.not(await store.get('GET /api/users'), null)
      t.not(await store.get('GET /api/usersettings'), null)
      t.equal(await store.get('GET /api/users/1'), null)
      t.equal(await store.get('GET /api/users/1/orders?a=1'), null)
      t.equal(await store.purge([indexOfPattern('/api/users/*')]), 0, 'nothing left to purge')
      t.equal(await store.purge([indexOfPattern('/*')]), 2, '/* purges everything')
      t.equal(await store.size(), 0)
    })

    t.test('a purge counts each entry once across patterns', async (t) => {
      const store = await impl.make(t)
      await put(store, '/p/1')
      await put(store, '/p/2')
      t.equal(await store.purge([indexOfPattern('/p/1'), indexOfPattern('/p/*')]), 2)
    })

    t.test('a response fetched before a purge of its path is not stored after it', async (t) => {
      const store = await impl.make(t)
      const since = Date.now() - 5
      await store.purge([indexOfPattern('/api/items/*')])
      t.equal(await put(store, '/api/items/7', '', Buffer.from('old'), 60_000, since), false)
      t.equal(await store.get('GET /api/items/7'), null)
      t.equal(await put(store, '/api/other', '', Buffer.from('ok'), 60_000, since), true, 'other paths are unaffected')
      await sleep(2)
      t.equal(await put(store, '/api/items/7', '', Buffer.from('new'), 60_000, Date.now()), true, 'a fetch begun after the purge is stored')
    })

    t.test('a re-stored key replaces the old value', async (t) => {
      const store = await impl.make(t)
      await put(store, '/r', '', Buffer.from('one'))
      await put(store, '/r', '', Buffer.from('two'))
      t.same(await store.get('GET /r'), Buffer.from('two'))
      t.equal(await store.size(), 1)
    })

    t.test('locks: one holder at a time, released only by its token, expiring by themselves', async (t) => {
      const store = await impl.make(t)
      const token = await store.lock('GET /l', 5000)
      t.type(token, 'string')
      t.equal(await store.lock('GET /l', 5000), null)
      await store.unlock('GET /l', 'not-the-token')
      t.equal(await store.lock('GET /l', 5000), null)
      await store.unlock('GET /l', token!)
      const again = await store.lock('GET /l', 30)
      t.type(again, 'string')
      await sleep(50)
      t.type(await store.lock('GET /l', 30), 'string', 'an expired lock is free')
    })
  })
}

t.test('memory store is an LRU bounded by bytes', async (t) => {
  const store = new MemoryCacheStore({ maxBytes: 3200 })
  const kb = Buffer.alloc(800, 1)
  for (const p of ['/1', '/2', '/3']) await put(store, p, '', kb)
  t.ok(store.usedBytes <= 3200)
  await store.get('GET /1') // now the most recent
  await put(store, '/4', '', kb)
  t.equal(await store.get('GET /2'), null, 'least recently used went first')
  t.not(await store.get('GET /1'), null)
  t.not(await store.get('GET /4'), null)
  t.equal(await put(store, '/big', '', Buffer.alloc(4000)), false, 'an entry larger than the whole budget is refused')
  t.equal(await store.purge([indexOfPattern('/*')]), 3)
  t.equal(store.usedBytes, 0)
})
