import t from 'tap'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import { build, REDIS_URL, startUpstream, uniquePrefix, type TestContext } from '../helper.ts'
import { startTcpProxy, type TcpProxy } from '../tcp-proxy.ts'
import { buildRateLimitApp } from '../plugins/rate-limit-app.ts'

const skip = REDIS_URL ? false : 'needs REDIS_URL (counters shared through Redis)'

function config (upstream: string) {
  return { services: { up: { url: upstream } }, routes: [{ path: '/api/a', service: 'up', upstreamPath: '/a' }] }
}

/** A key prefix of its own, its keys deleted when the test ends. */
async function redisPrefix (t: TestContext, name: string): Promise<string> {
  const prefix = uniquePrefix(name)
  t.teardown(async () => {
    const redis = new Redis(REDIS_URL!)
    const keys = await redis.keys(prefix + ':*')
    if (keys.length) await redis.del(...keys)
    redis.disconnect()
  })
  return prefix
}

/** REDIS_URL (password, db and all) pointed at the proxy. */
function through (proxy: TcpProxy): string {
  const url = new URL(REDIS_URL!)
  url.hostname = '127.0.0.1'
  url.port = String(proxy.port)
  return url.href
}

const ok = (res: Array<{ statusCode: number }>) => res.filter(r => r.statusCode === 200).length

for (const algorithm of ['fixed-window', 'gcra']) {
  t.test(`${algorithm}: 300 concurrent requests against max 100 → exactly 100 pass`, { skip }, async (t) => {
    const upstream = await startUpstream(t)
    const prefix = await redisPrefix(t, 'rl-exact')
    const app = await build(t, { config: config(upstream.url), env: { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_TIERS: 'anonymous:100', RATE_LIMIT_ALGORITHM: algorithm } })
    const res = await Promise.all(Array.from({ length: 300 }, () => app.inject({ url: '/api/a' })))
    t.equal(ok(res), 100)
    t.equal(res.filter(r => r.statusCode === 429).length, 200)
    t.equal(upstream.requests.length, 100)
  })

  t.test(`${algorithm}: two instances sharing Redis and a prefix enforce one limit`, { skip }, async (t) => {
    const upstream = await startUpstream(t)
    const prefix = await redisPrefix(t, 'rl-shared')
    const env = { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_TIERS: 'anonymous:10', RATE_LIMIT_ALGORITHM: algorithm }
    const apps = [await build(t, { config: config(upstream.url), env }), await build(t, { config: config(upstream.url), env })]
    const res = []
    for (let i = 0; i < 20; i++) res.push(await apps[i % 2].inject({ url: '/api/a' }))
    t.equal(ok(res), 10, 'ten in all, not ten each')
    t.equal(res[9].headers['ratelimit-remaining'], '0')
    t.equal(res[10].statusCode, 429)

    const other = await build(t, { config: config(upstream.url), env: { ...env, REDIS_KEY_PREFIX: prefix + '-other' } })
    t.equal((await other.inject({ url: '/api/a' })).statusCode, 200, 'another prefix: counted apart')
    const keys = await apps[0].redis.keys(`${prefix}:rate-limit:${algorithm}:*`)
    t.same(keys, [`${prefix}:rate-limit:${algorithm}:GET:/api/a:ip:127.0.0.1`], 'keys live under REDIS_KEY_PREFIX, per route and client')
  })
}

t.test('Redis unreachable mid-test: requests pass, one warning, counted; limits return when it heals', { skip }, async (t) => {
  const upstream = await startUpstream(t)
  const prefix = await redisPrefix(t, 'rl-outage')
  const target = new URL(REDIS_URL!)
  const proxy = await startTcpProxy(t, target.hostname, Number(target.port || 6379))
  const lines: Array<{ level: number, msg: string }> = []
  let storeErrors = 0
  const app: FastifyInstance = await buildRateLimitApp(t, {
    config: config(upstream.url),
    env: { REDIS_URL: through(proxy), REDIS_KEY_PREFIX: prefix, RATE_LIMIT_TIERS: 'anonymous:2' },
    logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } },
    metrics: { storeError: (store) => { if (store === 'rate-limit') storeErrors++ } }
  })
  const storeLines = () => lines.filter(l => l.msg.startsWith('rate-limit store'))
  const get = () => app.inject({ url: '/api/a' })

  t.same([(await get()).statusCode, (await get()).statusCode, (await get()).statusCode], [200, 200, 429], 'limited while Redis is up')

  proxy.cut()
  const during = []
  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    during.push(await get())
    t.ok(performance.now() - started < 1500, 'no request waits long on a dead store')
  }
  t.same(during.map(r => r.statusCode), [200, 200, 200, 200, 200], 'fail open: every request passes')
  t.equal(storeErrors, 5, 'every failure counted for metrics')
  t.equal(storeLines().length, 1, 'one warning for the whole outage')
  t.equal(storeLines()[0].level, 40)
  t.match(storeLines()[0].msg, /unavailable: requests pass without a limit/)
  t.equal(upstream.requests.length, 7)

  proxy.heal()
  if (app.redis.status !== 'ready') await once(app.redis, 'ready')
  const after = await get()
  t.equal(after.statusCode, 429, 'the count kept in Redis applies again')
  t.equal(after.headers['ratelimit-limit'], '2')
  t.equal(storeLines().length, 2)
  t.match(storeLines()[1].msg, /available again/)
  t.equal((await app.inject({ url: '/health' })).json().rateLimit.storeAvailable, true)
})

t.test('Redis hung (connection open, no answer): a request waits at most the command timeout, then passes', { skip }, async (t) => {
  const upstream = await startUpstream(t)
  const prefix = await redisPrefix(t, 'rl-hung')
  const target = new URL(REDIS_URL!)
  const proxy = await startTcpProxy(t, target.hostname, Number(target.port || 6379))
  let storeErrors = 0
  const app = await buildRateLimitApp(t, {
    config: config(upstream.url),
    env: { REDIS_URL: through(proxy), REDIS_KEY_PREFIX: prefix, RATE_LIMIT_TIERS: 'anonymous:1' },
    metrics: { storeError: () => { storeErrors++ } }
  })
  t.same([(await app.inject({ url: '/api/a' })).statusCode, (await app.inject({ url: '/api/a' })).statusCode], [200, 429])
  proxy.stall()
  const started = performance.now()
  const res = await app.inject({ url: '/api/a' })
  const waited = performance.now() - started
  t.equal(res.statusCode, 200, 'passes once the command times out')
  t.ok(waited >= 900 && waited < 2000, `waited ${Math.round(waited)} ms (the 1 s command timeout)`)
  t.equal(storeErrors, 1)
  proxy.heal()
  t.equal((await app.inject({ url: '/api/a' })).statusCode, 429, 'limited again on the same connection')
})

t.test('failOpen: false answers 503 while the store is down', { skip }, async (t) => {
  const upstream = await startUpstream(t)
  const prefix = await redisPrefix(t, 'rl-closed')
  const target = new URL(REDIS_URL!)
  const proxy = await startTcpProxy(t, target.hostname, Number(target.port || 6379))
  const app = await buildRateLimitApp(t, {
    config: config(upstream.url),
    env: { REDIS_URL: through(proxy), REDIS_KEY_PREFIX: prefix },
    plugin: { failOpen: false }
  })
  t.equal((await app.inject({ url: '/api/a' })).statusCode, 200)
  proxy.cut()
  const res = await app.inject({ url: '/api/a' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'rate limit store unavailable', requestId: res.headers['x-request-id'] })
  t.equal(upstream.requests.length, 1, 'the refused request never reached the upstream')
  await app.close()
  t.pass('app.close() finishes while Redis is unreachable')
})
