import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { setTimeout as sleep } from 'node:timers/promises'
import cache from '../../plugins/cache/index.ts'
import proxy from '../../plugins/proxy/index.ts'
import adminRoutes from '../../routes/admin.ts'
import adminCacheRoutes from '../../routes/admin-cache.ts'
import { buildApp, registerInfrastructure } from '../../app.ts'
import { noopMetrics, type CacheResult, type GatewayMetrics } from '../../services/metrics/types.ts'
import type { Identity } from '../../services/auth/identity.ts'
import { Redis } from 'ioredis'
import { once } from 'node:events'
import { startTcpProxy } from '../tcp-proxy.ts'
import { REDIS_URL, startUpstream, testConfig, testEnv, uniquePrefix, type TestContext, type Upstream, type UpstreamHandler } from '../helper.ts'

// Every test runs against the in-process store, and against Redis when REDIS_URL is set.
let backend: 'memory' | 'redis' = 'memory'
let cleaner: Redis | undefined

function backendEnv (t: TestContext): Record<string, string> {
  if (backend === 'memory') return {}
  const prefix = uniquePrefix('cache-plugin')
  t.teardown(async () => {
    const keys = await cleaner!.keys(`${prefix}:*`)
    if (keys.length > 0) await cleaner!.del(...keys)
  })
  return { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: prefix }
}

interface Built {
  app: FastifyInstance
  upstream: Upstream
  results: CacheResult[]
  storeErrors: string[]
}

/**
 * The gateway as app.ts composes it (memory stores), plus a stand-in for the auth plugin: it sets
 * `request.identity` from `x-test-user` (and `via` from `x-test-via`), and marks routes listed in
 * `authRoutes` with `auth: required` as the auth helper's config key will.
 */
async function setup (t: TestContext, opts: { routes: unknown[], handler?: UpstreamHandler, env?: Record<string, string>, authRoutes?: number[] }): Promise<Built> {
  const upstream = await startUpstream(t, opts.handler)
  const env = testEnv({ ADMIN_TOKEN: 'secret', ...backendEnv(t), ...opts.env })
  const config = testConfig({ services: { up: { url: upstream.url } }, routes: opts.routes })
  for (const i of opts.authRoutes ?? []) (config.routes[i] as { auth?: string }).auth = 'required'
  const results: CacheResult[] = []
  const storeErrors: string[] = []
  const metrics: GatewayMetrics = { ...noopMetrics, cacheResult: (r) => { results.push(r) }, storeError: (s) => { storeErrors.push(s) } }
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await registerInfrastructure(app, env, metrics)
  await app.register(fp(async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request) => {
      const id = request.headers['x-test-user']
      if (typeof id === 'string') request.identity = { id, scopes: [], tier: 'default', via: (request.headers['x-test-via'] as Identity['via']) ?? 'jwt' }
    })
  }, { name: 'test-auth' }))
  await app.register(cache, { ttl: env.CACHE_TTL, maxEntrySize: env.CACHE_MAX_ENTRY, maxMemory: env.CACHE_MAX_MEMORY, keyPrefix: env.REDIS_KEY_PREFIX })
  await app.register(proxy, { config, upstreamTimeout: env.UPSTREAM_TIMEOUT, bodyLimit: env.BODY_LIMIT })
  await app.register(adminRoutes, { prefix: '/admin', token: env.ADMIN_TOKEN, routes: [adminCacheRoutes] })
  await app.ready()
  return { app, upstream, results, storeErrors }
}

/** Answers with a counter so every upstream response differs. */
const counting = (extra: (res: import('node:http').ServerResponse) => void = () => {}): UpstreamHandler => {
  let n = 0
  return (req, res) => {
    n++
    res.setHeader('content-type', 'application/json')
    res.setHeader('x-upstream', 'yes')
    extra(res)
    res.end(JSON.stringify({ n, url: req.url, method: req.method }))
  }
}

const cached = (extra: Record<string, unknown> = {}) => ({ path: '/api/items', methods: ['GET'], service: 'up', upstreamPath: '/items', cache: true, ...extra })

for (const name of ['memory', 'redis'] as const) {
t.test(`${name} store`, { skip: name === 'redis' && !REDIS_URL ? 'needs REDIS_URL' : false }, async (t) => {
  backend = name
  if (name === 'redis') {
    cleaner = new Redis(REDIS_URL!)
    t.teardown(() => cleaner!.quit())
  }
  t.test('a HIT after a MISS has the same status, headers and bytes, with Age', async (t) => {
    const body = Buffer.concat([Buffer.from([0, 1, 2, 255, 254]), Buffer.alloc(3000, 7)])
    const { app, upstream, results } = await setup(t, {
      routes: [cached()],
      handler: (_req, res) => {
        res.statusCode = 200
        res.setHeader('content-type', 'application/octet-stream')
        res.setHeader('x-custom', ['a', 'b'])
        res.setHeader('last-modified', 'Mon, 23 Nov 2026 10:00:00 GMT')
        res.end(body)
      }
    })
    const miss = await app.inject('/api/items')
    t.equal(miss.statusCode, 200)
    t.equal(miss.headers['x-cache'], 'MISS')
    t.same(miss.rawPayload, body)
    const hit = await app.inject('/api/items')
    t.equal(hit.statusCode, 200)
    t.equal(hit.headers['x-cache'], 'HIT')
    t.same(hit.rawPayload, body, 'same bytes')
    t.equal(hit.headers['content-type'], 'application/octet-stream')
    t.same(hit.headers['x-custom'], miss.headers['x-custom'])
    t.equal(hit.headers['last-modified'], miss.headers['last-modified'])
    t.equal(hit.headers.date, miss.headers.date, 'the upstream Date, as sent')
    t.equal(hit.headers['x-service'], 'up')
    t.equal(hit.headers.age, '0')
    t.match(hit.headers.etag, /^"[A-Za-z0-9_-]+"$/, 'an ETag computed from the body')
    t.not(hit.headers['x-request-id'], miss.headers['x-request-id'], 'per-request headers are not replayed')
    t.equal(upstream.requests.length, 1)
    t.same(results, ['miss', 'hit'])
  })

  t.test('Age grows with the time since the response was stored', async (t) => {
    const { app } = await setup(t, { routes: [cached()], handler: (_req, res) => { res.setHeader('age', '30'); res.end('x') } })
    await app.inject('/api/items')
    const hit = await app.inject('/api/items')
    t.equal(hit.headers.age, '30', "the upstream's own Age is kept")
  })

  t.test('entries expire after their TTL', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached({ cache: { ttl: '250ms' } })], handler: counting() })
    t.equal((await app.inject('/api/items')).json().n, 1)
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'HIT')
    await sleep(300)
    const after = await app.inject('/api/items')
    t.equal(after.headers['x-cache'], 'MISS')
    t.equal(after.json().n, 2)
    t.equal((await app.inject('/api/items')).json().n, 2, 'the refreshed entry is served')
    t.equal(upstream.requests.length, 2)
  })

  t.test('CACHE_TTL is the TTL of cache: true', async (t) => {
    const { app } = await setup(t, { routes: [cached()], handler: counting(), env: { CACHE_TTL: '250ms' } })
    await app.inject('/api/items')
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'HIT')
    await sleep(300)
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'MISS')
  })

  t.test('the order of query parameters does not matter; their values do', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: counting() })
    await app.inject('/api/items?b=2&a=1')
    const same = await app.inject('/api/items?a=1&b=2')
    t.equal(same.headers['x-cache'], 'HIT')
    t.equal(same.json().url, '/items?b=2&a=1')
    t.equal((await app.inject('/api/items?a=1&b=3')).headers['x-cache'], 'MISS')
    t.equal((await app.inject('/api/items?a=1&a=2')).headers['x-cache'], 'MISS')
    t.equal((await app.inject('/api/items?a=2&a=1')).headers['x-cache'], 'MISS', 'repeated names keep their order')
    t.equal(upstream.requests.length, 4)
  })

  t.test('vary headers are part of the key', async (t) => {
    const { app } = await setup(t, { routes: [cached({ cache: { vary: ['Accept-Language'] } })], handler: counting() })
    const en = await app.inject({ url: '/api/items', headers: { 'accept-language': 'en' } })
    const fr = await app.inject({ url: '/api/items', headers: { 'accept-language': 'fr' } })
    const none = await app.inject({ url: '/api/items' })
    t.same([en.headers['x-cache'], fr.headers['x-cache'], none.headers['x-cache']], ['MISS', 'MISS', 'MISS'])
    const en2 = await app.inject({ url: '/api/items', headers: { 'accept-language': 'en' } })
    t.equal(en2.headers['x-cache'], 'HIT')
    t.equal(en2.json().n, en.json().n)
    t.equal((await app.inject({ url: '/api/items', headers: { 'accept-language': 'fr' } })).json().n, fr.json().n)
  })

  t.test("the upstream's own Vary is honoured: another value is a miss, never the wrong variant", async (t) => {
    const { app } = await setup(t, {
      routes: [cached()],
      handler: (req, res) => { res.setHeader('vary', 'Accept-Encoding'); res.end(`for ${req.headers['accept-encoding'] ?? 'none'}`) }
    })
    await app.inject({ url: '/api/items', headers: { 'accept-encoding': 'gzip' } })
    const gzip = await app.inject({ url: '/api/items', headers: { 'accept-encoding': 'gzip' } })
    t.equal(gzip.headers['x-cache'], 'HIT')
    t.equal(gzip.body, 'for gzip')
    const plain = await app.inject({ url: '/api/items' })
    t.equal(plain.headers['x-cache'], 'MISS')
    t.equal(plain.body, 'for none')
  })

  t.test('Vary: * is never stored', async (t) => {
    const { app } = await setup(t, { routes: [cached()], handler: (_req, res) => { res.setHeader('vary', '*'); res.end('x') } })
    await app.inject('/api/items')
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'MISS')
  })

  t.test('routes with auth cache per user: one user never gets another user\'s entry', async (t) => {
    const { app, upstream } = await setup(t, {
      routes: [cached()],
      authRoutes: [0],
      handler: (req, res) => { res.setHeader('cache-control', 'private, max-age=60'); res.end(`secret of ${req.headers['x-test-user'] ?? 'nobody'}`) }
    })
    const a1 = await app.inject({ url: '/api/items', headers: { 'x-test-user': 'alice' } })
    const b1 = await app.inject({ url: '/api/items', headers: { 'x-test-user': 'bob' } })
    t.equal(a1.headers['x-cache'], 'MISS')
    t.equal(b1.headers['x-cache'], 'MISS', "bob does not get alice's entry")
    t.equal(b1.body, 'secret of bob')
    const a2 = await app.inject({ url: '/api/items', headers: { 'x-test-user': 'alice' } })
    const b2 = await app.inject({ url: '/api/items', headers: { 'x-test-user': 'bob' } })
    t.equal(a2.headers['x-cache'], 'HIT', 'Cache-Control: private is stored per user on a route with auth')
    t.equal(a2.body, 'secret of alice')
    t.equal(b2.body, 'secret of bob')
    const anon = await app.inject({ url: '/api/items' })
    t.equal(anon.body, 'secret of nobody')
    t.equal(anon.headers['x-cache'], 'MISS')
    // An identity taken from client headers (RATE_LIMIT_TRUST_HEADERS) is unverified: it is not a key.
    const forged = await app.inject({ url: '/api/items', headers: { 'x-test-user': 'alice', 'x-test-via': 'header' } })
    t.not(forged.body, 'secret of alice')
    t.equal(forged.headers['x-cache'], 'HIT', 'treated as anonymous')
    t.equal(forged.body, 'secret of nobody')
    t.equal(upstream.requests.length, 3)
  })

  t.test('what is not stored: no-store, private, Set-Cookie, 500, other statuses, oversize', async (t) => {
    const cases: Array<[string, UpstreamHandler]> = [
      ['no-store', (_q, res) => { res.setHeader('cache-control', 'no-store'); res.end('a') }],
      ['no-cache', (_q, res) => { res.setHeader('cache-control', 'public, no-cache'); res.end('a') }],
      ['private', (_q, res) => { res.setHeader('cache-control', 'private'); res.end('a') }],
      ['set-cookie', (_q, res) => { res.setHeader('set-cookie', 'sid=1'); res.end('a') }],
      ['500', (_q, res) => { res.statusCode = 500; res.end('oops') }],
      ['404', (_q, res) => { res.statusCode = 404; res.end('nope') }],
      ['oversize (content-length)', (_q, res) => { res.end(Buffer.alloc(2000, 1)) }],
      ['oversize (chunked)', (_q, res) => { res.write(Buffer.alloc(600, 1)); res.end(Buffer.alloc(600, 2)) }]
    ]
    for (const [name, handler] of cases) {
      const { app, upstream } = await setup(t, { routes: [cached()], handler, env: { CACHE_MAX_ENTRY: '1000' } })
      const first = await app.inject('/api/items')
      const second = await app.inject('/api/items')
      t.equal(first.headers['x-cache'], 'MISS', name)
      t.equal(second.headers['x-cache'], 'MISS', `${name}: not stored`)
      t.equal(second.rawPayload.length, first.rawPayload.length, `${name}: the client still gets the whole body`)
      t.equal(upstream.requests.length, 2, name)
    }
  })

  t.test('configured statuses are stored', async (t) => {
    const { app } = await setup(t, { routes: [cached({ cache: { statuses: [200, 404] } })], handler: (_q, res) => { res.statusCode = 404; res.end('gone') } })
    await app.inject('/api/items')
    const hit = await app.inject('/api/items')
    t.equal(hit.statusCode, 404)
    t.equal(hit.headers['x-cache'], 'HIT')
    t.equal(hit.body, 'gone')
  })

  t.test('a response to a request with credentials is stored on a public route only when the upstream says public', async (t) => {
    let pub = false
    const { app } = await setup(t, { routes: [cached()], handler: (_q, res) => { if (pub) res.setHeader('cache-control', 'public, max-age=60'); res.end('x') } })
    await app.inject({ url: '/api/items', headers: { authorization: 'Bearer abc' } })
    t.equal((await app.inject('/api/items?')).headers['x-cache'], 'MISS')
    pub = true
    await app.inject({ url: '/api/items?p=1', headers: { authorization: 'Bearer abc' } })
    t.equal((await app.inject('/api/items?p=1')).headers['x-cache'], 'HIT')
    pub = false
    await app.inject({ url: '/api/items?p=2', headers: { 'x-test-user': 'carol' } })
    t.equal((await app.inject('/api/items?p=2')).headers['x-cache'], 'MISS', 'nor with an identity from a session')
  })

  t.test('a client Cache-Control: no-cache revalidates: upstream again, entry refreshed', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: counting() })
    await app.inject('/api/items')
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'HIT')
    const refreshed = await app.inject({ url: '/api/items', headers: { 'cache-control': 'no-cache' } })
    t.equal(refreshed.headers['x-cache'], 'MISS')
    t.equal(refreshed.json().n, 2)
    const hit = await app.inject('/api/items')
    t.equal(hit.headers['x-cache'], 'HIT')
    t.equal(hit.json().n, 2, 'the refreshed response replaced the entry')
    t.equal((await app.inject({ url: '/api/items', headers: { pragma: 'no-cache' } })).json().n, 3, 'Pragma: no-cache too')
    t.equal((await app.inject({ url: '/api/items', headers: { 'cache-control': 'max-age=0' } })).headers['x-cache'], 'HIT', 'a browser reload (max-age=0) is served from the cache')
    const noStore = await app.inject({ url: '/api/items', headers: { 'cache-control': 'no-store' } })
    t.equal(noStore.headers['x-cache'], 'BYPASS')
    t.equal(noStore.json().n, 4)
    t.equal((await app.inject('/api/items')).json().n, 3, 'a no-store request does not replace the entry')
    t.equal(upstream.requests.length, 4)
  })

  t.test('ETag and If-None-Match give 304', async (t) => {
    let etag: string | undefined
    const { app } = await setup(t, { routes: [cached()], handler: (_q, res) => { if (etag) res.setHeader('etag', etag); res.setHeader('cache-control', 'max-age=60'); res.end('body') } })
    await app.inject('/api/items')
    const hit = await app.inject('/api/items')
    const computed = hit.headers.etag as string
    t.ok(computed)
    const notModified = await app.inject({ url: '/api/items', headers: { 'if-none-match': computed } })
    t.equal(notModified.statusCode, 304)
    t.equal(notModified.body, '')
    t.equal(notModified.headers.etag, computed)
    t.equal(notModified.headers['cache-control'], 'max-age=60')
    t.equal(notModified.headers['x-cache'], 'HIT')
    t.ok(notModified.headers.age)
    t.equal((await app.inject({ url: '/api/items', headers: { 'if-none-match': `"other", W/${computed}` } })).statusCode, 304, 'weak comparison, lists')
    t.equal((await app.inject({ url: '/api/items', headers: { 'if-none-match': '"other"' } })).statusCode, 200)

    etag = 'W/"v7"'
    await app.inject('/api/items?e=1')
    const stored = await app.inject({ url: '/api/items?e=1', headers: { 'if-none-match': '"v7"' } })
    t.equal(stored.statusCode, 304, "the upstream's own ETag is used")
    t.equal(stored.headers.etag, 'W/"v7"')
  })

  t.test('a miss with If-None-Match still fills the entry', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: (req, res) => { res.setHeader('etag', '"v1"'); if (req.headers['if-none-match'] === '"v1"') { res.statusCode = 304; res.end(); return } res.end('full') } })
    const first = await app.inject({ url: '/api/items', headers: { 'if-none-match': '"v1"' } })
    t.equal(first.statusCode, 200)
    t.equal(upstream.requests[0].headers['if-none-match'], undefined, 'the fill asks for the whole response')
    t.equal((await app.inject({ url: '/api/items', headers: { 'if-none-match': '"v1"' } })).statusCode, 304)
  })

  t.test('HEAD is answered from the GET entry', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: counting() })
    const cold = await app.inject({ method: 'HEAD', url: '/api/items' })
    t.equal(cold.headers['x-cache'], 'MISS')
    t.equal(upstream.requests.at(-1)!.method, 'HEAD')
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'MISS', 'a HEAD does not fill the GET entry')
    const head = await app.inject({ method: 'HEAD', url: '/api/items' })
    t.equal(head.statusCode, 200)
    t.equal(head.headers['x-cache'], 'HIT')
    t.equal(head.body, '')
    t.equal(head.headers['content-length'], String(Buffer.byteLength(JSON.stringify({ n: 2, url: '/items', method: 'GET' }))))
    t.equal(head.headers['content-type'], 'application/json')
    t.equal(upstream.requests.length, 2)
  })

  t.test('HEAD on a route that declares HEAD itself', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached({ methods: ['GET', 'HEAD'] })], handler: counting() })
    await app.inject('/api/items')
    const head = await app.inject({ method: 'HEAD', url: '/api/items' })
    t.equal(head.headers['x-cache'], 'HIT')
    t.equal(head.body, '')
    t.equal(upstream.requests.length, 1)
  })

  t.test('invalidation after a 2xx of a write, with params filled from the request', async (t) => {
    const { app, upstream } = await setup(t, {
      routes: [
        { path: '/api/users', methods: ['GET', 'POST'], service: 'up', upstreamPath: '/users', cache: true, invalidates: ['/api/users'] },
        { path: '/api/users/:id', methods: ['GET', 'PUT'], service: 'up', upstreamPath: '/users/:id', cache: true, invalidates: ['/api/users/:id', '/api/users'] },
        { path: '/api/users/:id/orders', methods: ['GET'], service: 'up', upstreamPath: '/users/:id/orders', cache: true }
      ],
      handler: (req, res) => {
        if (req.url === '/users/fail') { res.statusCode = 409; res.end('conflict'); return }
        res.end(`${req.method} ${req.url} #${upstream.requests.length}`)
      }
    })
    const warm = async () => {
      for (const url of ['/api/users', '/api/users?page=2', '/api/users/1', '/api/users/2', '/api/users/1/orders', '/api/users/fail']) await app.inject(url)
    }
    const states = async () => Promise.all(['/api/users', '/api/users?page=2', '/api/users/1', '/api/users/2', '/api/users/1/orders'].map(async u => (await app.inject(u)).headers['x-cache']))
    await warm()
    t.same(await states(), ['HIT', 'HIT', 'HIT', 'HIT', 'HIT'])

    const created = await app.inject({ method: 'POST', url: '/api/users', payload: { name: 'x' } })
    await sleep(2)
    t.equal(created.statusCode, 200)
    t.same(await states(), ['MISS', 'MISS', 'HIT', 'HIT', 'HIT'], 'POST purged /api/users (any query), nothing below it')

    await app.inject({ method: 'PUT', url: '/api/users/1', payload: { name: 'y' } })
    t.same(await states(), ['MISS', 'MISS', 'MISS', 'HIT', 'HIT'], 'PUT /api/users/1 purged /api/users/1 and /api/users only')

    // A fill that begins in the same millisecond as a purge is not stored (the safe side of the race).
    await sleep(2)
    await states()
    await app.inject({ method: 'PUT', url: '/api/users/fail', payload: {} })
    t.same(await states(), ['HIT', 'HIT', 'HIT', 'HIT', 'HIT'], 'a 409 purges nothing')

    // The same user, asked for with its path percent-encoded: its own entry, purged all the same.
    await app.inject('/api/users/%32')
    t.equal((await app.inject('/api/users/%32')).headers['x-cache'], 'HIT')
    await app.inject({ method: 'PUT', url: '/api/users/2', payload: { name: 'z' } })
    t.equal((await app.inject('/api/users/%32')).headers['x-cache'], 'MISS', 'PUT /api/users/2 purged /api/users/%32 too')
  })

  t.test('a response fetched before an invalidation is not stored after it', async (t) => {
    let release: (() => void) | undefined
    const { app, upstream } = await setup(t, {
      routes: [{ path: '/api/items', methods: ['GET', 'POST'], service: 'up', upstreamPath: '/items', cache: true, invalidates: ['/api/items'] }],
      handler: (req, res) => {
        if (req.method === 'GET' && release === undefined) { release = () => res.end('before the write'); return }
        res.end(`${req.method} #${upstream.requests.length}`)
      }
    })
    const slow = app.inject('/api/items')
    while (release === undefined) await sleep(2)
    await sleep(2)
    t.equal((await app.inject({ method: 'POST', url: '/api/items', payload: {} })).statusCode, 200)
    release()
    t.equal((await slow).body, 'before the write')
    await sleep(2)
    const after = await app.inject('/api/items')
    t.equal(after.headers['x-cache'], 'MISS', 'the pre-write response was not stored')
    t.equal(after.body, 'GET #3')
  })

  t.test('admin purge: bearer token, patterns, counts', async (t) => {
    const { app } = await setup(t, {
      routes: [{ path: '/api/users/*', methods: ['GET'], service: 'up', upstreamPath: '/users/*', cache: true }, { path: '/api/users', methods: ['GET'], service: 'up', upstreamPath: '/users', cache: true }],
      handler: counting()
    })
    for (const url of ['/api/users', '/api/users/1', '/api/users/2?x=1', '/api/users/2/orders']) await app.inject(url)
    t.equal((await app.inject({ method: 'DELETE', url: '/admin/cache?pattern=/api/users/*' })).statusCode, 401)
    t.equal((await app.inject({ method: 'DELETE', url: '/admin/cache?pattern=/api/users/*', headers: { authorization: 'Bearer wrong' } })).statusCode, 401)
    t.equal((await app.inject('/api/users/1')).headers['x-cache'], 'HIT', 'nothing purged without the token')
    const auth = { authorization: 'Bearer secret' }
    const res = await app.inject({ method: 'DELETE', url: '/admin/cache?pattern=/api/users/*', headers: auth })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { purged: 3 })
    t.equal((await app.inject('/api/users')).headers['x-cache'], 'HIT', '/x/* leaves /x')
    t.equal((await app.inject('/api/users/1')).headers['x-cache'], 'MISS')
    t.same((await app.inject({ method: 'DELETE', url: '/admin/cache?pattern=/api/users', headers: auth })).json(), { purged: 1 })
    for (const bad of ['api', '/api/*/x', '/api/users/:id', '/api*']) {
      const r = await app.inject({ method: 'DELETE', url: `/admin/cache?pattern=${encodeURIComponent(bad)}`, headers: auth })
      t.equal(r.statusCode, 400, bad)
      t.match(r.json().message, /^pattern: /)
    }
    t.equal((await app.inject({ method: 'DELETE', url: '/admin/cache', headers: auth })).statusCode, 400, 'pattern is required')
  })

  t.test('the admin API is off without ADMIN_TOKEN', async (t) => {
    const { app } = await setup(t, { routes: [cached()], env: { ADMIN_TOKEN: '' } })
    t.equal((await app.inject({ method: 'DELETE', url: '/admin/cache?pattern=/*' })).statusCode, 404)
  })

  t.test('100 concurrent misses for one key send one upstream request', async (t) => {
    const { app, upstream, results } = await setup(t, { routes: [cached()], handler: (_q, res) => { setTimeout(() => res.end('shared'), 30) } })
    const all = await Promise.all(Array.from({ length: 100 }, () => app.inject('/api/items?same=1')))
    t.equal(upstream.requests.length, 1)
    t.ok(all.every(r => r.statusCode === 200 && r.body === 'shared'))
    t.equal(all.filter(r => r.headers['x-cache'] === 'MISS').length, 1)
    t.equal(all.filter(r => r.headers['x-cache'] === 'HIT').length, 99)
    t.equal(results.filter(r => r === 'miss').length, 1)
  })

  t.test('when the fetching request is aborted, one waiter fetches again for the others', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: (_q, res) => { setTimeout(() => res.end('answer'), 60) } })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    const controller = new AbortController()
    const leader = fetch(`${url}/api/items`, { signal: controller.signal }).catch(() => 'aborted')
    while (upstream.requests.length === 0) await sleep(5)
    const waiters = Array.from({ length: 5 }, () => app.inject('/api/items'))
    await sleep(10)
    controller.abort()
    t.equal(await leader, 'aborted')
    const all = await Promise.all(waiters)
    t.ok(all.every(r => r.statusCode === 200 && r.body === 'answer'))
    t.equal(upstream.requests.length, 2, 'one new upstream request, not one per waiter')
    t.equal(all.filter(r => r.headers['x-cache'] === 'MISS').length, 1)
  })

  t.test('concurrent misses of a response that cannot be stored each go upstream', async (t) => {
    const { app, upstream } = await setup(t, { routes: [cached()], handler: (_q, res) => { setTimeout(() => { res.setHeader('set-cookie', 'a=b'); res.end('mine') }, 20) } })
    const all = await Promise.all(Array.from({ length: 5 }, () => app.inject('/api/items')))
    t.ok(all.every(r => r.statusCode === 200 && r.body === 'mine' && r.headers['set-cookie'] === 'a=b'))
    t.equal(upstream.requests.length, 5, 'a Set-Cookie response is never shared')
  })

  t.test('an upstream that drops the connection mid-body leaves nothing stored', async (t) => {
    let drop = true
    const { app, upstream } = await setup(t, {
      routes: [cached()],
      handler: (_q, res) => {
        if (!drop) { res.end('complete'); return }
        res.setHeader('content-length', '100')
        res.write('partial')
        setTimeout(() => res.destroy(), 10)
      }
    })
    const first = await app.inject('/api/items').catch((err: Error) => err)
    t.ok(first instanceof Error || first.body.length < 100)
    drop = false
    const second = await app.inject('/api/items')
    t.equal(second.headers['x-cache'], 'MISS')
    t.equal(second.body, 'complete')
    t.equal(upstream.requests.length, 2)
  })

  t.test('store unreachable: BYPASS from the upstream, counted, and back by itself', { skip: name === 'redis' ? false : 'needs Redis behind a TCP proxy' }, async (t) => {
    const target = new URL(REDIS_URL!)
    const link = await startTcpProxy(t, target.hostname, Number(target.port || 6379), 'redis:')
    const { app, results, storeErrors } = await setup(t, { routes: [cached()], handler: counting(), env: { REDIS_URL: link.url } })
    await app.inject('/api/items')
    t.equal((await app.inject('/api/items')).headers['x-cache'], 'HIT')
    link.cut()
    const down = await app.inject('/api/items')
    t.equal(down.statusCode, 200)
    t.equal(down.headers['x-cache'], 'BYPASS')
    t.equal(down.json().n, 2)
    t.ok(storeErrors.length >= 1 && storeErrors.every(s => s === 'cache'), 'storeError(cache) reported')
    t.equal(results.at(-1), 'bypass')
    link.heal()
    if (app.redis.status !== 'ready') await once(app.redis, 'ready')
    let res = await app.inject('/api/items')
    for (let i = 0; i < 30 && res.headers['x-cache'] === 'BYPASS'; i++) {
      await sleep(100)
      res = await app.inject('/api/items')
    }
    t.equal(res.headers['x-cache'], 'HIT')
    t.equal(res.json().n, 1)
  })

  t.test('X-Cache on cached routes only; other methods and routes pay nothing', async (t) => {
    const { app } = await setup(t, {
      routes: [{ path: '/api/items', methods: ['GET', 'POST'], service: 'up', upstreamPath: '/items', cache: true }, { path: '/api/plain', methods: ['GET'], service: 'up' }],
      handler: counting()
    })
    t.equal((await app.inject({ method: 'POST', url: '/api/items', payload: {} })).headers['x-cache'], undefined)
    t.equal((await app.inject('/api/plain')).headers['x-cache'], undefined)
    t.equal((await app.inject('/health')).headers['x-cache'], undefined)
  })

  t.test('the OpenAPI document says which routes are cached and for how long', async (t) => {
    const { app } = await setup(t, {
      routes: [
        cached({ cache: { ttl: '90s', vary: ['accept-language'] } }),
        { path: '/api/items', methods: ['POST'], service: 'up', upstreamPath: '/items', invalidates: ['/api/items'] },
        { path: '/api/me', methods: ['GET'], service: 'up', cache: true }
      ],
      authRoutes: [2]
    })
    const doc = (await app.inject('/docs/json')).json()
    t.match(doc.paths['/api/items'].get.description, /Cached by the gateway for 90 s, varying on accept-language/)
    t.match(doc.paths['/api/items'].post.description, /A 2xx purges cached `\/api\/items`/)
    t.match(doc.paths['/api/me'].get.description, /Cached by the gateway for 5 min, per user/)
    t.notMatch(doc.paths['/api/items'].head?.description ?? '', /Cached.*Cached/, 'the HEAD twin gets the note once')
  })

  t.test('app.close() finishes with the cache registered and fills pending', async (t) => {
    const { app } = await setup(t, { routes: [cached()], handler: (_q, res) => { setTimeout(() => res.end('late'), 20) } })
    const pending = app.inject('/api/items')
    await sleep(5)
    await app.close()
    t.ok(await pending.then(r => r.statusCode, () => 'closed'))
  })
})
}

t.test('CACHE_TTL=0 switches off routes that take their TTL from it', async (t) => {
  const upstream = await startUpstream(t, counting())
  const app = await buildApp({
    env: testEnv({ CACHE_TTL: '0' }),
    config: testConfig({ services: { up: { url: upstream.url } }, routes: [cached(), cached({ path: '/api/own', cache: { ttl: '1m' } })] }),
    logger: false
  })
  t.teardown(() => app.close())
  await app.inject('/api/items')
  const second = await app.inject('/api/items')
  t.equal(second.headers['x-cache'], undefined)
  t.equal(second.json().n, 2)
  await app.inject('/api/own')
  t.equal((await app.inject('/api/own')).headers['x-cache'], 'HIT', 'a route with its own ttl still caches')
})

t.test('bad plugin options fail at registration with a clear message', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await registerInfrastructure(app, testEnv())
  app.register(cache, { ttl: -1, maxEntrySize: 1, maxMemory: 1, keyPrefix: 'x' })
  await t.rejects(async () => { await app.ready() }, /portico-cache: invalid options: \/ttl: Expected integer to be greater or equal to 0/)
})
