import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { build, startUpstream, REDIS_URL, uniquePrefix } from '../../helper.ts'

/** A TCP relay to the real Redis that the test can cut, for a real outage mid-test. */
async function redisRelay (t: { teardown (fn: () => unknown): void }) {
  const target = new URL(REDIS_URL!)
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname)
    sockets.add(client).add(upstream)
    client.pipe(upstream).pipe(client)
    const end = () => { client.destroy(); upstream.destroy() }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const cut = () => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()) })
  const restore = () => new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  t.teardown(() => server.listening ? cut() : undefined)
  const url = new URL(REDIS_URL!)
  url.host = `127.0.0.1:${port}`
  return { url: url.toString(), cut, restore }
}

// Redis goes away: commands fail fast, and auth says what that means.
t.test('session store down → 503 "session store unavailable"; remote verification goes on without its cache', { skip: REDIS_URL ? false : 'needs REDIS_URL' }, async (t) => {
  const relay = await redisRelay(t)
  const upstream = await startUpstream(t)
  const verify = await startUpstream(t, (_req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end('{"user_id":"u-1"}')
  })
  const app = await build(t, {
    env: { REDIS_URL: relay.url, REDIS_KEY_PREFIX: uniquePrefix('auth-down'), AUTH_VERIFY_URL: `${verify.url}/verify` },
    config: {
      services: { s: { url: upstream.url } },
      routes: [
        { path: '/me', service: 's', auth: 'optional' },
        { path: '/login', methods: ['POST'], service: 's', session: 'create' },
        { path: '/logout', methods: ['POST'], service: 's', session: 'destroy' }
      ]
    }
  })
  t.equal((await app.inject({ url: '/me', headers: { cookie: 'session=2b1f0c1e-0000-4000-8000-000000000000' } })).statusCode, 401, 'control: Redis up, unknown session')
  await relay.cut()
  const res = await app.inject({ url: '/me', headers: { cookie: 'session=2b1f0c1e-0000-4000-8000-000000000000' } })
  t.equal(res.statusCode, 503)
  t.equal(res.json().message, 'session store unavailable')

  const bearer = await app.inject({ url: '/me', headers: { authorization: 'Bearer opaque-token' } })
  t.equal(bearer.statusCode, 200, 'the verify service answers; the dead cache is skipped')
  t.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'u-1')

  upstream.handle((_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"user":{"id":"u-1"}}') })
  const login = await app.inject({ method: 'POST', url: '/login' })
  t.equal(login.statusCode, 503, 'a login whose session cannot be stored is not a success')
  t.equal(login.json().message, 'session store unavailable')

  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: 'session=2b1f0c1e-0000-4000-8000-000000000000' } })
  t.equal(logout.statusCode, 200, 'logout still clears the cookie')
  t.match(String(logout.headers['set-cookie']), /session=; Max-Age=0/)

  // Redis comes back (the redis plugin's close needs a live connection to QUIT).
  await relay.restore()
  await once(app.redis, 'ready')
  t.equal((await app.inject({ url: '/me', headers: { cookie: 'session=2b1f0c1e-0000-4000-8000-000000000000' } })).statusCode, 401, 'recovered')
})
