import t from 'tap'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { listen, REDIS_URL, startUpstream, uniquePrefix, type TestContext, type Upstream, type UpstreamHandler } from '../helper.ts'
import { startTcpProxy } from '../tcp-proxy.ts'

const routes = [
  { path: '/api/users', methods: ['GET', 'POST'], service: 'users', upstreamPath: '/users', cache: true, invalidates: ['/api/users'] },
  { path: '/api/users/:id', methods: ['GET', 'PUT'], service: 'users', upstreamPath: '/users/:id', cache: { ttl: '1m' }, invalidates: ['/api/users/:id', '/api/users'] },
  { path: '/api/short', methods: ['GET'], service: 'users', upstreamPath: '/short', cache: { ttl: '300ms' } }
]

/** Answers `<method> <url> #<n>` so every upstream response differs. */
const numbered = (upstream: () => Upstream, delayMs = 0): UpstreamHandler => (req, res) => {
  const n = upstream().requests.length
  setTimeout(() => {
    res.setHeader('content-type', 'text/plain')
    res.end(`${req.method} ${req.url} #${n}`)
  }, delayMs)
}

async function instances (t: TestContext, count: number, handler: (u: () => Upstream) => UpstreamHandler, redisUrl = REDIS_URL!) {
  let upstream: Upstream | undefined
  upstream = await startUpstream(t, handler(() => upstream!))
  const prefix = uniquePrefix('cache-e2e')
  const cleaner = new Redis(REDIS_URL!, { lazyConnect: true })
  await cleaner.connect()
  t.teardown(async () => {
    const keys = await cleaner.keys(`${prefix}:*`)
    if (keys.length > 0) await cleaner.del(...keys)
    await cleaner.quit()
  })
  const apps: Array<{ app: FastifyInstance, url: string }> = []
  for (let i = 0; i < count; i++) {
    apps.push(await listen(t, {
      config: { services: { users: { url: upstream.url } }, routes },
      env: { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ADMIN_TOKEN: 'secret' }
    }))
  }
  return { apps, upstream, prefix, redis: cleaner }
}

async function get (base: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(base + path, { headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

t.test('with Redis', { skip: REDIS_URL ? false : 'needs REDIS_URL' }, async (t) => {
  t.test('instances share entries; a write on one invalidates for all', async (t) => {
    const { apps: [a, b], upstream } = await instances(t, 2, u => numbered(u))
    const first = await get(a.url, '/api/users?page=1')
    t.equal(first.headers['x-cache'], 'MISS')
    const fromB = await get(b.url, '/api/users?page=1')
    t.equal(fromB.headers['x-cache'], 'HIT', 'the other instance is served from Redis')
    t.equal(fromB.body, first.body)
    await get(a.url, '/api/users/1')
    await get(a.url, '/api/users/2')
    t.equal(upstream.requests.length, 3)

    const created = await request(`${b.url}/api/users`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
    await created.body.dump()
    t.equal(created.statusCode, 200)
    await sleep(2)
    t.equal((await get(a.url, '/api/users?page=1')).headers['x-cache'], 'MISS', 'instance A sees the purge made by B')
    t.equal((await get(a.url, '/api/users/1')).headers['x-cache'], 'HIT')

    const put = await request(`${b.url}/api/users/1`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })
    await put.body.dump()
    await sleep(2)
    t.equal((await get(a.url, '/api/users/1')).headers['x-cache'], 'MISS', ':id filled from the request')
    t.equal((await get(a.url, '/api/users/2')).headers['x-cache'], 'HIT', 'other ids are kept')
    t.equal((await get(a.url, '/api/users?page=1')).headers['x-cache'], 'MISS')

    const purge = await request(`${a.url}/admin/cache?pattern=/api/users/*`, { method: 'DELETE', headers: { authorization: 'Bearer secret' } })
    t.same(await purge.body.json(), { purged: 2 })
    t.equal((await get(b.url, '/api/users/2')).headers['x-cache'], 'MISS', 'the admin purge reaches every instance')
  })

  t.test('entries are stored as bytes, the body exactly as sent', async (t) => {
    const body = Buffer.from([0xff, 0x00, 0xfe, 0x22, 0x5c])
    const { apps: [a], prefix, redis } = await instances(t, 1, () => (_req, res) => res.end(body))
    await get(a.url, '/api/users/9')
    const stored = await redis.getBuffer(`${prefix}:cache:GET /api/users/9`)
    t.ok(stored)
    t.same(stored!.subarray(stored!.length - body.length), body, 'the raw body ends the stored value')
    const hit = await request(`${a.url}/api/users/9`)
    t.same(Buffer.from(await hit.body.arrayBuffer()), body)
    t.equal(hit.headers['x-cache'], 'HIT')
  })

  t.test('100 concurrent misses send one upstream request', async (t) => {
    const { apps: [a], upstream } = await instances(t, 1, u => numbered(u, 50))
    const all = await Promise.all(Array.from({ length: 100 }, () => get(a.url, '/api/users/7')))
    t.equal(upstream.requests.length, 1)
    t.ok(all.every(r => r.status === 200 && r.body === 'GET /users/7 #1'))
    t.equal(all.filter(r => r.headers['x-cache'] === 'MISS').length, 1)
  })

  t.test('an expired hot key is refreshed by one request across instances; the rest get the stale entry', async (t) => {
    const { apps: [a, b], upstream } = await instances(t, 2, u => numbered(u, 50))
    await get(a.url, '/api/short')
    t.equal(upstream.requests.length, 1)
    await sleep(350) // past the 300 ms TTL, inside the stale grace
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => get(i % 2 === 0 ? a.url : b.url, '/api/short')))
    t.equal(upstream.requests.length, 2, 'one refresh for both instances')
    t.equal(all.filter(r => r.headers['x-cache'] === 'MISS').length, 1)
    t.ok(all.filter(r => r.headers['x-cache'] === 'HIT').every(r => r.body === 'GET /short #1' && Number(r.headers.age) >= 0))
    await sleep(5)
    t.equal((await get(b.url, '/api/short')).body, 'GET /short #2', 'the refreshed entry is shared')
  })

  t.test('Redis unreachable mid-test: BYPASS with correct responses, then it recovers by itself', async (t) => {
    const target = new URL(REDIS_URL!)
    const proxy = await startTcpProxy(t, target.hostname, Number(target.port || 6379), 'redis:')
    const { apps: [a], upstream } = await instances(t, 1, u => numbered(u), proxy.url + target.pathname)
    await get(a.url, '/api/users/3')
    t.equal((await get(a.url, '/api/users/3')).headers['x-cache'], 'HIT')

    proxy.cut()
    const started = Date.now()
    for (let i = 0; i < 5; i++) {
      const res = await get(a.url, '/api/users/3')
      t.equal(res.status, 200)
      t.equal(res.headers['x-cache'], 'BYPASS')
      t.match(res.body, /^GET \/users\/3 #\d+$/)
    }
    t.ok(Date.now() - started < 2000, 'an outage does not make requests wait')
    const write = await request(`${a.url}/api/users/3`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } })
    t.equal(write.statusCode, 200, 'a write whose purge fails still succeeds')
    await write.body.dump()
    t.equal(upstream.requests.length, 7)

    proxy.heal()
    if (a.app.redis.status !== 'ready') await once(a.app.redis, 'ready')
    let res = await get(a.url, '/api/users/3')
    for (let i = 0; i < 30 && res.headers['x-cache'] === 'BYPASS'; i++) {
      await sleep(100) // the cache probes the store again at most once a second
      res = await get(a.url, '/api/users/3')
    }
    t.equal(res.headers['x-cache'], 'HIT', 'entries in Redis are served again')
    const health = await get(a.url, '/health')
    t.equal(health.status, 200)
  })
})
