import t from 'tap'
import { Redis } from 'ioredis'
import { SessionStore } from '../../../services/auth/session-store.ts'
import { MemoryStore } from '../../../services/store/memory-store.ts'
import { RedisStore } from '../../../services/store/redis-store.ts'
import type { KeyValueStore } from '../../../services/store/types.ts'
import { REDIS_URL, uniquePrefix } from '../../helper.ts'

const backends: Array<[string, (t: { teardown (fn: () => unknown): void }) => Promise<KeyValueStore> | KeyValueStore]> = [
  ['memory', () => new MemoryStore({ prefix: 'test:' })],
  ['redis', (t) => {
    const redis = new Redis(REDIS_URL!)
    const prefix = `${uniquePrefix('session-store')}:`
    t.teardown(async () => {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      await redis.quit()
    })
    return new RedisStore(redis, prefix)
  }]
]

// One contract, every store behind it.
for (const [name, make] of backends) {
  t.test(`session store contract (${name})`, { skip: name === 'redis' && !REDIS_URL ? 'needs REDIS_URL' : false }, async (t) => {
    const sessions = new SessionStore((await make(t)).child('cookie'), 200)
    const id = await sessions.create({ id: '7', email: 'a@example.com', scopes: ['x', 'y'], tier: 'premium', via: 'session' })
    t.ok(SessionStore.isSessionId(id))
    t.same(await sessions.get(id), { id: '7', email: 'a@example.com', scopes: ['x', 'y'], tier: 'premium', via: 'session' })
    const other = await sessions.create({ id: '8', scopes: [], tier: 'default', via: 'session' })
    t.not(other, id, 'ids are unique')
    t.same(await sessions.get(other), { id: '8', scopes: [], tier: 'default', via: 'session' })
    t.equal(await sessions.get('00000000-0000-4000-8000-000000000000'), null, 'unknown')
    t.equal(await sessions.get('not-a-uuid'), null, 'malformed never reaches the store')
    t.equal(await sessions.destroy(id), true)
    t.equal(await sessions.get(id), null, 'destroyed')
    t.equal(await sessions.destroy(id), false)
    await new Promise(resolve => setTimeout(resolve, 250))
    t.equal(await sessions.get(other), null, 'expired after the TTL')
  })
}
