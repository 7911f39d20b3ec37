import t from 'tap'
import { build, startUpstream, freePort, REDIS_URL, uniquePrefix } from '../../helper.ts'

/** A real verify service: tokens `good-*` are valid; the rest 401; its behaviour can be switched. */
async function startVerify (t: Parameters<typeof startUpstream>[0]) {
  const state = { mode: 'ok' as 'ok' | 'error' | 'slow' | 'garbage', calls: 0 }
  const server = await startUpstream(t, (req, res, body) => {
    state.calls++
    const token = (JSON.parse(body.toString() || '{}') as { token?: string }).token
    const bearer = req.headers.authorization
    if (state.mode === 'slow') return setTimeout(() => { res.end('{}') }, 2000).unref()
    if (state.mode === 'error') { res.statusCode = 502; return res.end('bad gateway') }
    res.setHeader('content-type', 'application/json')
    if (state.mode === 'garbage') return res.end('<html>')
    if (token === undefined || bearer !== `Bearer ${token}`) { res.statusCode = 400; return res.end('{"error":"token must be sent both ways"}') }
    if (!token.startsWith('good-')) { res.statusCode = 401; return res.end('{"error":"invalid token"}') }
    res.end(JSON.stringify({ user_id: token.slice(5), email: `${token.slice(5)}@example.com`, scopes: 'orders:read orders:write', tier: 'premium' }))
  })
  return { ...server, state }
}

const config = (upstream: string) => ({
  services: { echo: { url: upstream } },
  routes: [
    { path: '/private', service: 'echo', auth: 'required' },
    { path: '/orders', service: 'echo', scopes: ['orders:write'] }
  ]
})

for (const store of ['memory', 'redis'] as const) {
  t.test(`remote verification (${store} result cache)`, { skip: store === 'redis' && !REDIS_URL ? 'needs REDIS_URL' : false }, async (t) => {
    const upstream = await startUpstream(t)
    const verify = await startVerify(t)
    const env: Record<string, string> = { AUTH_VERIFY_URL: `${verify.url}/verify`, AUTH_VERIFY_TIMEOUT: '300ms' }
    if (store === 'redis') Object.assign(env, { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: uniquePrefix('auth-remote') })
    const app = await build(t, { config: config(upstream.url), env })
    const get = (token: string, url = '/private') => app.inject({ url, headers: { authorization: `Bearer ${token}` } })

    const ok = await get('good-ada')
    t.equal(ok.statusCode, 200)
    const seen = upstream.requests.at(-1)!.headers
    t.equal(seen['x-user-id'], 'ada')
    t.equal(seen['x-user-email'], 'ada@example.com')
    t.equal(seen['x-user-scopes'], 'orders:read orders:write', 'space-separated scopes accepted')
    t.equal(seen['x-user-tier'], 'premium')
    t.equal((await get('good-ada', '/orders')).statusCode, 200, 'scopes from the verify service')
    t.equal(verify.state.calls, 1, 'the second request used the cached result')

    const bad = await get('forged')
    t.equal(bad.statusCode, 401)
    t.match(bad.headers['www-authenticate'], /^Bearer /)
    t.equal((await get('forged')).statusCode, 401)
    t.equal(verify.state.calls, 2, 'invalid results are cached too')

    if (store === 'redis') {
      const { Redis } = await import('ioredis')
      const redis = new Redis(REDIS_URL!)
      const keys = await redis.keys(`${env.REDIS_KEY_PREFIX}:auth:*`)
      t.equal(keys.length, 2, 'results live in the shared store under <prefix>:auth:')
      t.notOk(keys.some(k => k.includes('good-ada') || k.includes('forged')), 'keyed by hash, never by the token')
      t.teardown(async () => {
        const all = await redis.keys(`${env.REDIS_KEY_PREFIX}:*`)
        if (all.length > 0) await redis.del(...all)
        await redis.quit()
      })
    }

    verify.state.mode = 'error'
    const down = await get('good-new')
    t.equal(down.statusCode, 503, 'verify service answering 5xx → 503, not 401')
    t.equal(down.json().message, 'auth service unavailable')
    t.equal((await get('good-ada')).statusCode, 200, 'a cached result survives the outage')

    verify.state.mode = 'garbage'
    t.equal((await get('good-other')).statusCode, 503, 'a 200 that is not JSON → 503')

    verify.state.mode = 'slow'
    const started = Date.now()
    const slow = await get('good-slowpoke')
    t.equal(slow.statusCode, 503, 'timed out → 503')
    t.ok(Date.now() - started < 1500, 'AUTH_VERIFY_TIMEOUT bounds the wait')

    await verify.close()
    t.equal((await get('good-closed')).statusCode, 503, 'connection refused → 503')
  })
}

t.test('AUTH_VERIFY_CACHE_TTL=0 asks every time; concurrent requests share one call', async (t) => {
  const upstream = await startUpstream(t)
  const verify = await startVerify(t)
  const app = await build(t, { config: config(upstream.url), env: { AUTH_VERIFY_URL: `${verify.url}/verify`, AUTH_VERIFY_CACHE_TTL: '0' } })
  const get = () => app.inject({ url: '/private', headers: { authorization: 'Bearer good-x' } })
  await get()
  await get()
  t.equal(verify.state.calls, 2)
  const all = await Promise.all([get(), get(), get(), get()])
  t.same(all.map(r => r.statusCode), [200, 200, 200, 200])
  t.equal(verify.state.calls, 3, 'four concurrent requests, one verify call')
})

t.test('JWTs local, opaque tokens remote, when both are configured', async (t) => {
  const upstream = await startUpstream(t)
  const verify = await startVerify(t)
  const { hs256, SECRET } = await import('./tokens.ts')
  const app = await build(t, { config: config(upstream.url), env: { AUTH_VERIFY_URL: `${verify.url}/verify`, JWT_SECRET: SECRET } })
  t.equal((await app.inject({ url: '/private', headers: { authorization: `Bearer ${hs256({ sub: 'jwt-user' })}` } })).statusCode, 200)
  t.equal(verify.state.calls, 0)
  t.equal((await app.inject({ url: '/private', headers: { authorization: 'Bearer good-opaque' } })).statusCode, 200)
  t.equal(verify.state.calls, 1)
})

t.test('verify service never started: 503', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { AUTH_VERIFY_URL: `http://127.0.0.1:${await freePort()}/verify` } })
  const res = await app.inject({ url: '/private', headers: { authorization: 'Bearer good-x' } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().message, 'auth service unavailable')
})
