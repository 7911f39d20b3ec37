import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { build, startUpstream, testConfig, testEnv } from '../helper.ts'
import { buildRateLimitApp } from './rate-limit-app.ts'

function routes (upstream: string, extra: object[] = []) {
  return {
    services: { up: { url: upstream } },
    routes: [
      { path: '/api/a', service: 'up', upstreamPath: '/a' },
      { path: '/api/b', service: 'up', upstreamPath: '/b' },
      ...extra
    ]
  }
}

async function send (app: FastifyInstance, n: number, opts: InjectOptions) {
  const out = []
  for (let i = 0; i < n; i++) out.push(await app.inject(opts))
  return out
}

const statuses = (responses: Array<{ statusCode: number }>) => responses.map(r => r.statusCode)

t.test('default limit: headers, then 429 with Retry-After and the contract body', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:3' } })
  const res = await send(app, 4, { url: '/api/a' })
  t.same(statuses(res), [200, 200, 200, 429])
  t.same(res.slice(0, 3).map(r => r.headers['ratelimit-remaining']), ['2', '1', '0'])
  t.equal(res[0].headers['ratelimit-limit'], '3')
  t.equal(res[0].headers['ratelimit-reset'], '60', 'seconds left in the 1m window')
  t.equal(res[0].headers['x-service'], 'up', 'the proxied response keeps the limit headers')
  const refused = res[3]
  t.equal(refused.headers['retry-after'], '60')
  t.equal(refused.headers['ratelimit-remaining'], '0')
  t.match(refused.headers['content-type'], /application\/json/)
  t.same(refused.json(), { statusCode: 429, error: 'Too Many Requests', message: 'rate limit exceeded, retry in 1 minute', requestId: refused.headers['x-request-id'] })
  t.equal(upstream.requests.length, 3, 'the refused request never reached the upstream')
})

t.test('counts are per client and per route; gateway endpoints are never limited', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:2' } })
  t.same(statuses(await send(app, 3, { url: '/api/a', remoteAddress: '10.0.0.1' })), [200, 200, 429])
  t.same(statuses(await send(app, 3, { url: '/api/b', remoteAddress: '10.0.0.1' })), [200, 200, 429], 'another route: its own count')
  t.same(statuses(await send(app, 3, { url: '/api/a', remoteAddress: '10.0.0.2' })), [200, 200, 429], 'another client: its own count')
  t.equal((await app.inject({ url: '/api/a', method: 'HEAD', remoteAddress: '10.0.0.1' })).statusCode, 429, 'HEAD shares its GET route\'s count')
  for (const url of ['/health', '/health/ready', '/docs/json', '/']) {
    const res = await send(app, 5, { url, remoteAddress: '10.0.0.1' })
    t.ok(res.every(r => r.statusCode !== 429 && r.headers['ratelimit-limit'] === undefined), `${url} not limited`)
  }
})

t.test('tiers come from the verified identity only', async (t) => {
  const upstream = await startUpstream(t)
  const app = await buildRateLimitApp(t, { config: routes(upstream.url), env: { RATE_LIMIT_MAX: '4', RATE_LIMIT_TIERS: 'anonymous:2,premium:6' } })
  const limitOf = async (headers: Record<string, string>) => (await app.inject({ url: '/api/a', headers })).headers['ratelimit-limit']
  t.equal(await limitOf({}), '2', 'anonymous')
  t.equal(await limitOf({ 'x-test-identity': 'u1:premium' }), '6', 'premium')
  t.equal(await limitOf({ 'x-test-identity': 'u2:gold' }), '4', 'an unknown tier gets RATE_LIMIT_MAX')
  t.equal(await limitOf({ 'x-test-identity': 'u3:default' }), '4', 'no tier (default) gets RATE_LIMIT_MAX')
  const spoofed = await send(app, 3, { url: '/api/b', headers: { 'x-user-tier': 'premium', 'x-user-id': 'admin' } })
  t.same(statuses(spoofed), [200, 200, 429], 'a client-sent X-User-Tier: premium gets the anonymous limit')
  t.equal(spoofed[0].headers['ratelimit-limit'], '2')
  const premium = await send(app, 7, { url: '/api/b', headers: { 'x-test-identity': 'u1:premium' } })
  t.same(statuses(premium), [200, 200, 200, 200, 200, 200, 429])
})

t.test('key user: per identity, IP when anonymous', async (t) => {
  const upstream = await startUpstream(t)
  const app = await buildRateLimitApp(t, { config: routes(upstream.url), env: { RATE_LIMIT_MAX: '2', RATE_LIMIT_TIERS: 'premium:1000' } })
  t.same(statuses(await send(app, 2, { url: '/api/a', remoteAddress: '10.0.0.1', headers: { 'x-test-identity': 'alice:x' } })), [200, 200])
  t.equal((await app.inject({ url: '/api/a', remoteAddress: '10.0.0.9', headers: { 'x-test-identity': 'alice:x' } })).statusCode, 429, 'alice from another IP: same count')
  t.equal((await app.inject({ url: '/api/a', remoteAddress: '10.0.0.1', headers: { 'x-test-identity': 'bob:x' } })).statusCode, 200, 'bob from alice\'s IP: his own count')
  t.same(statuses(await send(app, 3, { url: '/api/a', remoteAddress: '10.0.0.1' })), [200, 200, 429], 'anonymous from that IP: the IP\'s own count')
})

t.test('route overrides: max replaces tiers, window, key ip and header, false', async (t) => {
  const upstream = await startUpstream(t)
  const app = await buildRateLimitApp(t, {
    config: routes(upstream.url, [
      { path: '/api/fixed', service: 'up', rateLimit: { max: 2, window: '10s' } },
      { path: '/api/by-ip', service: 'up', rateLimit: { max: 2, key: 'ip' } },
      { path: '/api/by-key', service: 'up', rateLimit: { max: 2, key: 'header:X-Api-Key' } },
      { path: '/api/free', service: 'up', rateLimit: false }
    ]),
    env: { RATE_LIMIT_TIERS: 'anonymous:50,premium:1000' }
  })
  const fixed = await send(app, 3, { url: '/api/fixed', headers: { 'x-test-identity': 'u1:premium' } })
  t.same(statuses(fixed), [200, 200, 429], 'route max replaces the premium tier')
  t.equal(fixed[0].headers['ratelimit-reset'], '10', 'route window')

  await send(app, 1, { url: '/api/by-ip', remoteAddress: '10.0.0.1', headers: { 'x-test-identity': 'alice:x' } })
  await send(app, 1, { url: '/api/by-ip', remoteAddress: '10.0.0.1', headers: { 'x-test-identity': 'bob:x' } })
  t.equal((await app.inject({ url: '/api/by-ip', remoteAddress: '10.0.0.1', headers: { 'x-test-identity': 'carol:x' } })).statusCode, 429, 'key ip: users behind one IP share it')

  t.same(statuses([
    await app.inject({ url: '/api/by-key', remoteAddress: '10.0.0.1', headers: { 'x-api-key': 'k1' } }),
    await app.inject({ url: '/api/by-key', remoteAddress: '10.0.0.2', headers: { 'x-api-key': 'k1' } }),
    await app.inject({ url: '/api/by-key', remoteAddress: '10.0.0.3', headers: { 'x-api-key': 'k1' } }),
    await app.inject({ url: '/api/by-key', remoteAddress: '10.0.0.1', headers: { 'x-api-key': 'k2' } })
  ]), [200, 200, 429, 200], 'key header: one count per header value, whatever the IP')
  t.same(statuses(await send(app, 3, { url: '/api/by-key', remoteAddress: '10.0.0.7' })), [200, 200, 429], 'no header: counted by IP')

  const free = await send(app, 60, { url: '/api/free' })
  t.ok(free.every(r => r.statusCode === 200 && r.headers['ratelimit-limit'] === undefined), 'rateLimit: false: no limit, no headers')
})

t.test('TRUST_PROXY decides whether X-Forwarded-For names the client', async (t) => {
  const upstream = await startUpstream(t)
  for (const [trust, expected] of [['false', [200, 200, 429]], ['true', [200, 200, 200]]] as const) {
    const app = await build(t, { config: routes(upstream.url), env: { TRUST_PROXY: trust, RATE_LIMIT_TIERS: 'anonymous:2' } })
    const res = []
    for (const spoof of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) {
      res.push(await app.inject({ url: '/api/a', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': spoof } }))
    }
    t.same(statuses(res), expected, `TRUST_PROXY=${trust}: ${trust === 'true' ? 'each forwarded client counted apart' : 'spoofed X-Forwarded-For ignored'}`)
  }
})

t.test('IPv6 clients are counted by /64; IPv4-mapped addresses as IPv4', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:2' } })
  const from = (remoteAddress: string) => app.inject({ url: '/api/a', remoteAddress })
  t.same(statuses([await from('2001:db8::1'), await from('2001:db8::ffff:2'), await from('2001:db8::3')]), [200, 200, 429], 'one /64')
  t.equal((await from('2001:db8:0:1::1')).statusCode, 200, 'another /64')
  t.same(statuses([await from('::ffff:10.1.1.1'), await from('10.1.1.1'), await from('10.1.1.1')]), [200, 200, 429])
})

t.test('the window resets', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:2', RATE_LIMIT_WINDOW: '300ms' } })
  t.same(statuses(await send(app, 3, { url: '/api/a' })), [200, 200, 429])
  await sleep(330)
  t.same(statuses(await send(app, 3, { url: '/api/a' })), [200, 200, 429], 'a new window: the full limit again')
})

t.test('300 concurrent requests against max 100: exactly 100 pass (memory)', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:100' } })
  const res = await Promise.all(Array.from({ length: 300 }, () => app.inject({ url: '/api/a' })))
  t.equal(res.filter(r => r.statusCode === 200).length, 100)
  t.equal(res.filter(r => r.statusCode === 429).length, 200)
  t.equal(upstream.requests.length, 100)
})

t.test('gcra: a burst of max, then one per window/max', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: routes(upstream.url), env: { RATE_LIMIT_ALGORITHM: 'gcra', RATE_LIMIT_TIERS: 'anonymous:4', RATE_LIMIT_WINDOW: '400ms' } })
  const burst = await Promise.all(Array.from({ length: 6 }, () => app.inject({ url: '/api/a' })))
  t.equal(burst.filter(r => r.statusCode === 200).length, 4)
  const refused = burst.find(r => r.statusCode === 429)!
  t.equal(refused.headers['retry-after'], '1', 'retry after one interval (100 ms), in whole seconds')
  await sleep(110)
  t.same(statuses(await send(app, 2, { url: '/api/a' })), [200, 429], 'one interval later: exactly one more')
})

t.test('each 429 is counted in metrics by route', async (t) => {
  const upstream = await startUpstream(t)
  const limited: string[] = []
  const app = await buildRateLimitApp(t, { config: routes(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:1' }, metrics: { rateLimited: (route) => limited.push(route) } })
  await send(app, 3, { url: '/api/a' })
  await send(app, 2, { url: '/api/b' })
  t.same(limited, ['/api/a', '/api/a', '/api/b'])
})

t.test('the OpenAPI document shows 429 and the limit on limited routes only', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    config: routes(upstream.url, [
      { path: '/api/fixed', methods: ['GET'], service: 'up', rateLimit: { max: 20, window: '1m', key: 'ip' } },
      { path: '/api/free', methods: ['GET'], service: 'up', rateLimit: false }
    ]),
    env: { RATE_LIMIT_TIERS: 'anonymous:50,premium:1000', RATE_LIMIT_MAX: '100' }
  })
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.match(doc.paths['/api/fixed'].get.responses['429'].description, /20 requests per minute, counted per client IP/)
  t.match(doc.paths['/api/a'].get.responses['429'].description, /by tier, per minute: anonymous 50, premium 1000, any other 100/)
  t.equal(doc.paths['/api/free'].get.responses['429'], undefined)
  t.equal(doc.paths['/health'].get.responses['429'], undefined)
})

t.test('bad values stop start-up with a clear message', async (t) => {
  const config = (rateLimit: unknown) => ({ services: { up: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/a', service: 'up', rateLimit }] })
  t.throws(() => testConfig(config({ key: 'cookie' })), { message: /routes\[0\]\.rateLimit\.key: expected user, ip or header:<name>, got "cookie"/ })
  t.throws(() => testConfig(config({ max: 0 })), { message: /routes\[0\]\.rateLimit\.max: expected an integer of at least 1, got 0/ })
  t.throws(() => testConfig(config({ window: 'soon' })), { message: /routes\[0\]\.rateLimit\.window: expected a duration like 500ms/ })
  t.throws(() => testConfig(config({ window: '0s' })), { message: /routes\[0\]\.rateLimit\.window: expected a duration above 0, got "0s"/ })
  t.throws(() => testEnv({ RATE_LIMIT_WINDOW: '0' }), { message: /RATE_LIMIT_WINDOW: expected a duration above 0 like 500ms, 10s, 1m, 1h or a number of milliseconds, got "0"/ })
  t.throws(() => testConfig(config(true)), { message: /routes\[0\]\.rateLimit: expected an object with max, window, key, or false, got true/ })
  t.throws(() => testEnv({ RATE_LIMIT_TIERS: 'anonymous=50' }), { message: /RATE_LIMIT_TIERS: expected a comma list of tier:max \(max at least 1\), like anonymous:50,premium:1000, got "anonymous=50"/ })
  t.throws(() => testEnv({ RATE_LIMIT_ALGORITHM: 'sliding' }), { message: /RATE_LIMIT_ALGORITHM: expected fixed-window or gcra, got "sliding"/ })
  t.throws(() => testEnv({ RATE_LIMIT_MAX: '0' }), { message: /RATE_LIMIT_MAX: expected an integer from 1/ })
  t.same(testEnv({}).RATE_LIMIT_TIERS, { anonymous: 50, premium: 1000 }, 'the contract default')
})

t.test('plugin options are checked at registration', async (t) => {
  const Fastify = (await import('fastify')).default
  const { default: rateLimit } = await import('../../plugins/rate-limit/index.ts')
  const { default: requestContext } = await import('../../plugins/request-context/index.ts')
  const { default: errorHandler } = await import('../../plugins/error-handler/index.ts')
  const { default: readiness } = await import('../../plugins/readiness/index.ts')
  const { default: redis } = await import('../../plugins/redis/index.ts')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(readiness)
  await app.register(errorHandler)
  await app.register(requestContext)
  await app.register(redis, { keyPrefix: 'x' })
  app.register(rateLimit, { max: 0, window: 1000, tiers: {}, algorithm: 'sliding' as never, keyPrefix: 'x' })
  await t.rejects(async () => { await app.ready() }, { message: /portico-rate-limit: invalid options: \/max: Expected integer to be greater or equal to 1; \/algorithm: / })
})
