import t from 'tap'
import { build, startUpstream, REDIS_URL, uniquePrefix } from '../../helper.ts'
import { hs256, SECRET } from './tokens.ts'

/**
 * An upstream with a login (answers `{token, user}` as the example auth service does), a
 * logout, and an echo for everything else.
 */
async function startApp (t: Parameters<typeof startUpstream>[0]) {
  return await startUpstream(t, (req, res, body) => {
    res.setHeader('content-type', 'application/json')
    if (req.url === '/login') {
      const { email } = JSON.parse(body.toString()) as { email: string }
      if (email === 'nobody@example.com') { res.statusCode = 401; return res.end('{"error":"invalid email or password"}') }
      if (email === 'noid@example.com') return res.end('{"user":{"email":"noid@example.com"}}')
      res.setHeader('set-cookie', 'upstream=1; Path=/')
      return res.end(`{"token":"t-1","user":{"id":42,"email":"${email}","scopes":["orders:read"],"tier":"premium"}}`)
    }
    if (req.url === '/logout') return res.end('{"ok":true}')
    res.end(JSON.stringify({ url: req.url, headers: req.headers }))
  })
}

const config = (url: string) => ({
  services: { app: { url } },
  routes: [
    { path: '/auth/login', methods: ['POST'], service: 'app', upstreamPath: '/login', session: 'create' },
    { path: '/auth/logout', methods: ['POST'], service: 'app', upstreamPath: '/logout', session: 'destroy' },
    { path: '/me', service: 'app', auth: 'required' },
    { path: '/maybe', service: 'app', auth: 'optional' },
    { path: '/orders', service: 'app', scopes: ['orders:read'] },
    { path: '/admin', service: 'app', scopes: ['admin'] },
    { path: '/public', service: 'app' }
  ]
})

const cookieOf = (setCookie: string | string[] | undefined, name = 'session') =>
  ([] as string[]).concat(setCookie ?? []).find(c => c.startsWith(`${name}=`))

for (const store of ['memory', 'redis'] as const) {
  t.test(`login → cookie → protected route → upstream sees the user → logout → 401 (${store})`, { skip: store === 'redis' && !REDIS_URL ? 'needs REDIS_URL' : false }, async (t) => {
    const upstream = await startApp(t)
    const prefix = uniquePrefix('auth-session')
    const env: Record<string, string> = { SESSION_TTL: '1h' }
    if (store === 'redis') Object.assign(env, { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: prefix })
    const app = await build(t, { config: config(upstream.url), env })

    const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'ada@example.com', password: 'secret-secret' } })
    t.equal(login.statusCode, 200)
    t.equal(login.body, '{"token":"t-1","user":{"id":42,"email":"ada@example.com","scopes":["orders:read"],"tier":"premium"}}', 'the upstream body passes byte for byte')
    t.equal(login.headers['content-length'], String(Buffer.byteLength(login.body)))
    const setCookie = cookieOf(login.headers['set-cookie'])!
    t.match(setCookie, /^session=[0-9a-f-]{36}; Max-Age=3600; Path=\/; HttpOnly; SameSite=Lax$/)
    t.ok(cookieOf(login.headers['set-cookie'], 'upstream'), "the upstream's own cookie is kept")
    const sid = setCookie.slice('session='.length, setCookie.indexOf(';'))

    if (store === 'redis') {
      const { Redis } = await import('ioredis')
      const redis = new Redis(REDIS_URL!)
      t.teardown(async () => {
        const all = await redis.keys(`${prefix}:*`)
        if (all.length > 0) await redis.del(...all)
        await redis.quit()
      })
      const stored = await redis.get(`${prefix}:cookie:${sid}`)
      t.same(JSON.parse(stored!), { id: '42', email: 'ada@example.com', scopes: ['orders:read'], tier: 'premium' }, 'stored under <prefix>:cookie:<uuid>')
      const ttl = await redis.pttl(`${prefix}:cookie:${sid}`)
      t.ok(ttl > 3_500_000 && ttl <= 3_600_000, 'with SESSION_TTL')
    }

    const cookie = `theme=dark; session=${sid}; other=1`
    const me = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(me.statusCode, 200)
    const seen = upstream.requests.at(-1)!.headers
    t.equal(seen['x-user-id'], '42')
    t.equal(seen['x-user-email'], 'ada@example.com')
    t.equal(seen['x-user-scopes'], 'orders:read')
    t.equal(seen['x-user-tier'], 'premium')
    t.equal(seen.cookie, 'theme=dark; other=1', "the gateway's session cookie is not forwarded; the rest are")
    t.equal((await app.inject({ url: '/orders', headers: { cookie } })).statusCode, 200, 'scopes from the session')
    t.equal((await app.inject({ url: '/admin', headers: { cookie } })).statusCode, 403)

    // Bearer beats the cookie, even a bad bearer.
    const refused = await app.inject({ url: '/me', headers: { cookie, authorization: `Bearer ${hs256({ sub: 'bearer-user' })}` } })
    t.equal(refused.statusCode, 401, 'without JWT config the bearer is refused, not the cookie used')

    const logout = await app.inject({ method: 'POST', url: '/auth/logout', headers: { cookie } })
    t.equal(logout.statusCode, 200)
    t.match(cookieOf(logout.headers['set-cookie']), /^session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/)
    const after = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(after.statusCode, 401, 'the session is gone')
    t.equal(after.json().message, 'session is invalid or has expired')
    t.match(cookieOf(after.headers['set-cookie']), /^session=; Max-Age=0/, 'a dead session cookie is cleared')
    t.equal((await app.inject({ url: '/public', headers: { cookie } })).statusCode, 200, 'auth: none ignores it')
  })
}

t.test('bearer takes precedence over the session cookie', async (t) => {
  const upstream = await startApp(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'ada@example.com' } })
  const sid = cookieOf(login.headers['set-cookie'])!.split(';')[0]
  await app.inject({ url: '/me', headers: { cookie: sid, authorization: `Bearer ${hs256({ sub: 'bearer-user' })}` } })
  t.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'bearer-user')
  const bad = await app.inject({ url: '/me', headers: { cookie: sid, authorization: 'Bearer nope' } })
  t.equal(bad.statusCode, 401, 'a bad bearer is not rescued by a good cookie')
})

t.test('forged, malformed and unknown session ids → 401 and no crash', async (t) => {
  const upstream = await startApp(t)
  const app = await build(t, { config: config(upstream.url) })
  for (const value of ['forged', '00000000-0000-4000-8000-000000000000', "'; DROP TABLE--", 'a'.repeat(4000), '%00%0d%0a', '']) {
    for (const url of ['/me', '/maybe']) {
      const res = await app.inject({ url, headers: { cookie: `session=${value}` } })
      t.equal(res.statusCode, value === '' && url === '/maybe' ? 200 : 401, `${JSON.stringify(value.slice(0, 20))} on ${url}`)
    }
  }
  t.equal(upstream.requests.length, 1)
})

t.test('login answers that do not start a session', async (t) => {
  const upstream = await startApp(t)
  const app = await build(t, { config: config(upstream.url) })
  const failed = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'nobody@example.com' } })
  t.equal(failed.statusCode, 401)
  t.equal(failed.body, '{"error":"invalid email or password"}')
  t.notOk(cookieOf(failed.headers['set-cookie']), 'no session on a failed login')
  const noId = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'noid@example.com' } })
  t.equal(noId.statusCode, 200)
  t.notOk(cookieOf(noId.headers['set-cookie']), 'a user without id starts no session')
  t.equal(noId.body, '{"user":{"email":"noid@example.com"}}')
})

t.test('a second login replaces the previous session', async (t) => {
  const upstream = await startApp(t)
  const app = await build(t, { config: config(upstream.url) })
  const first = cookieOf((await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a@example.com' } })).headers['set-cookie'])!.split(';')[0]
  const second = cookieOf((await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'b@example.com' } , headers: { cookie: first } })).headers['set-cookie'])!.split(';')[0]
  t.not(first, second)
  // The old id is ended asynchronously; give the store a turn.
  await new Promise(resolve => setImmediate(resolve))
  t.equal((await app.inject({ url: '/me', headers: { cookie: first } })).statusCode, 401)
  t.equal((await app.inject({ url: '/me', headers: { cookie: second } })).statusCode, 200)
})

t.test('SESSION_COOKIE and SESSION_COOKIE_SECURE', async (t) => {
  const upstream = await startApp(t)
  const app = await build(t, { config: config(upstream.url), env: { SESSION_COOKIE: '__Host-sid', SESSION_COOKIE_SECURE: 'true' } })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { email: 'a@example.com' } })
  const set = cookieOf(login.headers['set-cookie'], '__Host-sid')!
  t.match(set, /; Secure/)
  t.equal((await app.inject({ url: '/me', headers: { cookie: set.split(';')[0] } })).statusCode, 200)
})

t.test('a large login response passes through untouched without a session', async (t) => {
  const big = JSON.stringify({ user: { id: 1 }, pad: 'x'.repeat(100_000) })
  const upstream = await startUpstream(t, (_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.write(big.slice(0, 50_000))
    setImmediate(() => res.end(big.slice(50_000)))
  })
  const app = await build(t, { config: config(upstream.url) })
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: {} })
  t.equal(res.statusCode, 200)
  t.equal(res.body, big)
  t.notOk(cookieOf(res.headers['set-cookie']))
})

t.test('a chunked login answer (no Content-Length) is read, passed on whole, and starts a session', async (t) => {
  const body = '{"user":{"id":"c-1","scopes":"a b"},"token":"x"}'
  const upstream = await startUpstream(t, (_req, res) => {
    res.setHeader('content-type', 'application/json; charset=utf-8')
    res.write(body.slice(0, 10))
    setImmediate(() => res.end(body.slice(10)))
  })
  const { url } = await (await import('../../helper.ts')).listen(t, { config: config(upstream.url) })
  const { request } = await import('undici')
  const res = await request(`${url}/auth/login`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), body)
  t.ok(res.headers['content-length'] === String(body.length) || res.headers['transfer-encoding'] === 'chunked', 'framed correctly')
  t.notOk(res.headers['content-length'] !== undefined && res.headers['transfer-encoding'] !== undefined, 'never both framings')
  const sid = cookieOf(res.headers['set-cookie'])!.split(';')[0]
  const me = await request(`${url}/me`, { headers: { cookie: sid } })
  t.equal(me.statusCode, 200)
  await me.body.dump()
  t.equal(upstream.requests.at(-1)!.headers['x-user-scopes'], 'a b')
  t.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'c-1')
})
