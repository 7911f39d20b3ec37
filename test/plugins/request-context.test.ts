import t from 'tap'
import { Writable } from 'node:stream'
import { buildApp, REDACTED_LOG_PATHS } from '../../app.ts'
import { build, startUpstream, testConfig, testEnv } from '../helper.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

t.test('X-Request-ID: a safe client id is kept, anything else replaced by a UUID', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: { services: { u: { url: upstream.url } }, routes: [{ path: '/api/x', service: 'u' }] } })
  const kept = await app.inject({ url: '/api/x', headers: { 'x-request-id': 'client.id_1-2' } })
  t.equal(kept.headers['x-request-id'], 'client.id_1-2')
  t.equal(upstream.requests[0].headers['x-request-id'], 'client.id_1-2', 'forwarded upstream')
  for (const bad of ['a'.repeat(129), 'has space', 'semi;colon', '<script>']) {
    const res = await app.inject({ url: '/api/x', headers: { 'x-request-id': bad } })
    t.match(res.headers['x-request-id'], UUID, `${bad.slice(0, 20)} replaced`)
  }
  t.equal((await app.inject({ url: '/api/x', headers: { 'x-request-id': 'a'.repeat(128) } })).headers['x-request-id'], 'a'.repeat(128))
  const generated = await app.inject({ url: '/api/x' })
  t.match(generated.headers['x-request-id'], UUID)
  t.equal(upstream.requests.at(-1)!.headers['x-request-id'], generated.headers['x-request-id'])
})

t.test('X-Response-Time on every response: proxied, gateway, 404', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: { services: { u: { url: upstream.url } }, routes: [{ path: '/api/x', service: 'u' }] } })
  for (const url of ['/api/x', '/health', '/missing']) {
    const res = await app.inject({ url })
    t.match(res.headers['x-response-time'], /^\d+\.\d\d$/, url)
    t.ok(res.headers['x-request-id'], url)
  }
})

t.test('forwarded headers added, hop-by-hop headers dropped both ways', async (t) => {
  const upstream = await startUpstream(t, (_req, res) => {
    res.setHeader('keep-alive', 'timeout=5')
    res.setHeader('proxy-authenticate', 'Basic')
    res.setHeader('x-upstream', 'yes')
    res.end('ok')
  })
  const app = await build(t, { config: { services: { u: { url: upstream.url } }, routes: [{ path: '/api/x', service: 'u' }] } })
  const res = await app.inject({
    url: '/api/x',
    remoteAddress: '203.0.113.9',
    headers: { host: 'gw.example.com', 'x-forwarded-for': '198.51.100.1', 'proxy-authorization': 'Basic abc', te: 'gzip', upgrade: 'websocket', connection: 'x-drop-me', 'x-drop-me': '1', 'x-keep': '1' }
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-upstream'], 'yes')
  t.notOk(res.headers['proxy-authenticate'])
  t.equal(res.headers['x-service'], 'u')
  const seen = upstream.requests[0].headers
  t.equal(seen['x-forwarded-for'], '198.51.100.1, 203.0.113.9', 'peer appended')
  t.equal(seen['x-forwarded-proto'], 'http')
  t.equal(seen['x-forwarded-host'], 'gw.example.com')
  t.equal(seen.host, new URL(upstream.url).host, 'Host is the upstream')
  t.equal(seen['x-keep'], '1')
  for (const name of ['proxy-authorization', 'te', 'upgrade', 'x-drop-me']) t.notOk(seen[name], `${name} not forwarded`)
})

t.test('one JSON access line per request, credentials redacted', async (t) => {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb() } })
  const upstream = await startUpstream(t)
  const app = await buildApp({
    env: testEnv(),
    config: testConfig({ services: { u: { url: upstream.url } }, routes: [{ path: '/api/x/:id', service: 'u' }] }),
    logger: { level: 'info', stream, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }
  })
  t.teardown(() => app.close())
  app.get('/log-headers', async (request) => { request.log.info({ headers: request.headers }, 'headers'); return 'ok' })
  await app.inject({ url: '/api/x/7?secret=1', headers: { authorization: 'Bearer abc', 'x-request-id': 'rid-1' } })
  await app.inject({ url: '/log-headers', headers: { authorization: 'Bearer abc', cookie: 'session=s3cret' } })
  const access = lines.filter(l => l.msg === 'request completed')
  t.equal(access.length, 2, 'one line per request')
  t.match(access[0], { requestId: 'rid-1', method: 'GET', path: '/api/x/7', route: '/api/x/:id', service: 'u', statusCode: 200 })
  t.type(access[0].responseTimeMs, 'number')
  const headerLine = lines.find(l => l.msg === 'headers') as { headers: Record<string, string> }
  t.equal(headerLine.headers.authorization, '[REDACTED]')
  t.equal(headerLine.headers.cookie, '[REDACTED]')
  t.notMatch(JSON.stringify(lines), /s3cret|Bearer abc/)
})
