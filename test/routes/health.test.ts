import t from 'tap'
import { build, freePort, startUpstream } from '../helper.ts'
import { PACKAGE } from '../../services/config/package-info.ts'

t.test('GET / and GET /health answer without touching dependencies', async (t) => {
  const port = await freePort()
  const app = await build(t, { config: { services: { down: { url: `http://127.0.0.1:${port}` } }, routes: [{ path: '/api/x', service: 'down' }] } })
  const root = await app.inject({ url: '/' })
  t.same(root.json(), { name: PACKAGE.name, version: PACKAGE.version, links: { docs: '/docs', health: '/health', metrics: '/metrics' } })
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200)
  t.match(health.json(), { status: 'healthy', service: 'api-gateway', version: PACKAGE.version })
  t.type(health.json().uptimeSeconds, 'number')
})

t.test('/health/ready checks every service (health path when configured) and says which failed', async (t) => {
  const healthy = await startUpstream(t, (req, res) => { res.statusCode = req.url === '/healthz' ? 200 : 404; res.end() })
  const sick = await startUpstream(t, (_req, res) => { res.statusCode = 500; res.end() })
  const port = await freePort()
  const app = await build(t, {
    config: {
      services: {
        a: { url: healthy.url, health: { path: '/healthz' } },
        b: { url: healthy.url },
        c: { url: sick.url, health: { path: '/health' } },
        d: { url: `http://127.0.0.1:${port}` }
      },
      routes: [{ path: '/api/a', service: 'a' }]
    }
  })
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  const body = res.json()
  t.equal(body.status, 'not ready')
  t.equal(body.checks['service:a'].status, 'up')
  t.equal(body.checks['service:b'].status, 'up', 'no health path: any answer means reachable')
  t.equal(body.checks['service:c'].status, 'down')
  t.equal(body.checks['service:c'].error, '/health answered 500')
  t.equal(body.checks['service:d'].status, 'down')
})

t.test('/health/ready is 200 when everything is up, and bounds a hanging check', async (t) => {
  const up = await startUpstream(t)
  const app = await build(t, { config: { services: { a: { url: up.url } }, routes: [{ path: '/api/a', service: 'a' }] } })
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)
  app.readiness.add('hangs', () => new Promise(() => {}))
  const started = Date.now()
  const res = await app.inject({ url: '/health/ready' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().checks.hangs.error, 'timed out after 2000ms')
  t.ok(Date.now() - started < 3000)
})

t.test('CORS: preflight answered by the gateway with 204; off when CORS_ORIGINS is unset', async (t) => {
  const upstream = await startUpstream(t)
  const config = { services: { u: { url: upstream.url } }, routes: [{ path: '/api/x', service: 'u', methods: ['GET', 'POST'] }] }
  const app = await build(t, { env: { CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' }, config })
  const preflight = await app.inject({ method: 'OPTIONS', url: '/api/x', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } })
  t.equal(preflight.statusCode, 204)
  t.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com')
  t.equal(upstream.requests.length, 0, 'preflight never reaches the upstream')
  const simple = await app.inject({ url: '/api/x', headers: { origin: 'https://admin.example.com' } })
  t.equal(simple.headers['access-control-allow-origin'], 'https://admin.example.com')
  const stranger = await app.inject({ url: '/api/x', headers: { origin: 'https://evil.example.com' } })
  t.notOk(stranger.headers['access-control-allow-origin'])

  const star = await build(t, { env: { CORS_ORIGINS: '*' }, config })
  t.equal((await star.inject({ url: '/api/x', headers: { origin: 'https://any.example.com' } })).headers['access-control-allow-origin'], '*')

  const off = await build(t, { config })
  t.notOk((await off.inject({ url: '/api/x', headers: { origin: 'https://app.example.com' } })).headers['access-control-allow-origin'])
})

t.test('admin API: 404 when ADMIN_TOKEN is unset, 401 without the token', async (t) => {
  const config = { services: { u: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/api/x', service: 'u' }] }
  const off = await build(t, { config })
  t.equal((await off.inject({ url: '/admin/anything' })).statusCode, 404)
  const on = await build(t, { env: { ADMIN_TOKEN: 'sekret' }, config })
  const denied = await on.inject({ url: '/admin/anything', headers: { authorization: 'Bearer wrong' } })
  t.equal(denied.statusCode, 401)
  t.equal(denied.headers['www-authenticate'], 'Bearer realm="portico-admin"')
  t.equal(denied.json().message, 'a valid admin bearer token is required')
  t.equal((await on.inject({ url: '/admin/anything' })).statusCode, 401)
  t.equal((await on.inject({ url: '/admin/anything', headers: { authorization: 'Bearer sekret' } })).statusCode, 404)
})
