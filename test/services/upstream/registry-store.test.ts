import t from 'tap'
import { Redis } from 'ioredis'
import { MemoryRegistryStore, RedisRegistryStore, type TargetRegistryStore } from '../../../services/upstream/registry-store.ts'
import { REDIS_URL, uniquePrefix } from '../../helper.ts'

const wait = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

/** One contract, run against every implementation. */
function contract (name: string, make: (t: { teardown (fn: () => unknown): void }) => Promise<TargetRegistryStore>, skip: string | false = false): void {
  t.test(name, { skip }, async (t) => {
    t.test('heartbeat registers, renews, and lists live targets per service', async (t) => {
      const store = await make(t)
      const before = Date.now()
      const expiresAt = await store.heartbeat('users', 'http://10.0.0.1:80', 5000)
      t.ok(expiresAt >= before + 4900 && expiresAt <= Date.now() + 5100, 'expiry about ttl from now')
      await store.heartbeat('users', 'http://10.0.0.2:80', 5000)
      await store.heartbeat('orders', 'http://10.0.0.3:80', 5000)
      t.same((await store.list('users')).map(x => x.url).sort(), ['http://10.0.0.1:80', 'http://10.0.0.2:80'])
      t.same((await store.list('orders')).map(x => x.url), ['http://10.0.0.3:80'])
      t.same(await store.list('nobody'), [])
      const renewed = await store.heartbeat('users', 'http://10.0.0.1:80', 20_000)
      const listed = (await store.list('users')).find(x => x.url === 'http://10.0.0.1:80')!
      t.ok(Math.abs(listed.expiresAt - renewed) < 50, 'renewal moves the expiry')
      t.equal((await store.list('users')).length, 2, 'a renewal does not duplicate')
    })

    t.test('a target whose heartbeat stops expires', async (t) => {
      const store = await make(t)
      await store.heartbeat('users', 'http://short:1', 60)
      await store.heartbeat('users', 'http://long:1', 5000)
      t.equal((await store.list('users')).length, 2)
      await wait(90)
      t.same((await store.list('users')).map(x => x.url), ['http://long:1'])
    })

    t.test('remove deletes at once', async (t) => {
      const store = await make(t)
      await store.heartbeat('users', 'http://a:1', 5000)
      t.equal(await store.remove('users', 'http://a:1'), true)
      t.equal(await store.remove('users', 'http://a:1'), false)
      t.same(await store.list('users'), [])
    })
  })
}

contract('memory registry store', async (t) => {
  const store = new MemoryRegistryStore()
  t.teardown(() => store.close())
  return store
})

contract('redis registry store', async (t) => {
  const redis = new Redis(REDIS_URL!)
  const prefix = uniquePrefix('registry') + ':'
  t.teardown(async () => {
    const keys = await redis.keys(prefix + '*')
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  return new RedisRegistryStore(redis, prefix)
}, REDIS_URL ? false : 'needs REDIS_URL (redis://127.0.0.1:6379)')
