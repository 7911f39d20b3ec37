import t from 'tap'
import { request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { build, listen, startUpstream, testConfig, testEnv, freePort, type TestContext } from '../helper.ts'
import { BACKENDS, testDatabase, type Backend } from '../tracking-db.ts'
import { buildApp } from '../../app.ts'
import type { RequestRow } from '../../services/tracking/schema.ts'
import { hs256, SECRET } from './auth/tokens.ts'

async function rows (app: FastifyInstance, filters = {}): Promise<RequestRow[]> {
  await app.tracking.flush()
  return app.tracking.list({ limit: 1000, ...filters })
}

async function byRequestId (app: FastifyInstance, id: string): Promise<RequestRow> {
  const found = (await rows(app)).filter(r => r.request_id === id)
  if (found.length !== 1) throw new Error(`expected one row for ${id}, found ${found.length}`)
  return found[0]
}

async function tracked (t: TestContext, backend: Backend, config: unknown, env: Record<string, string> = {}) {
  const db = await testDatabase(t, backend)
  return build(t, { config, env: { ...db.env, ...env } })
}

for (const { name: backend, skip } of BACKENDS) {
  t.test(backend, { skip }, async (t) => {
    t.test('records the contract fields and redacts credentials', async (t) => {
      const upstream = await startUpstream(t, (req, res) => {
        res.setHeader('content-type', 'application/json')
        res.setHeader('set-cookie', ['a=secret-cookie; HttpOnly'])
        res.end(JSON.stringify({ ok: true, session: { accessToken: 'tok-123', name: 'x' } }))
      })
      const app = await tracked(t, backend, {
        services: { users: { url: upstream.url } },
        routes: [{ path: '/api/users/:id', service: 'users', upstreamPath: '/users/:id' }]
      })
      const body = JSON.stringify({ name: 'ann', password: 'hunter2', nested: { client_secret: 's3', list: [{ token: 't' }] } })
      const res = await app.inject({
        method: 'POST',
        url: '/api/users/7?expand=1&x=2',
        headers: {
          'content-type': 'application/json',
          authorization: 'Bearer abc',
          cookie: 'theme=dark; sid=zzz',
          'x-api-key': 'key-1',
          'user-agent': 'tap-test',
          'x-request-id': 'req-fields-1'
        },
        payload: body
      })
      t.equal(res.statusCode, 200)
      t.equal(upstream.requests[0].body.toString(), body, 'the upstream got the body unchanged')
      const row = await byRequestId(app, 'req-fields-1')
      t.match(row, {
        method: 'POST',
        path: '/api/users/7',
        query: 'expand=1&x=2',
        route: '/api/users/:id',
        service: 'users',
        status_code: 200,
        ip: '127.0.0.1',
        user_id: null,
        tier: 'anonymous',
        user_agent: 'tap-test',
        cache_status: null,
        rate_limit: 'allowed', // every proxied route has the default limit
        error: null,
        request_body_truncated: false,
        response_body_truncated: false,
        bytes_in: Buffer.byteLength(body)
      })
      t.ok(row.id > 0)
      t.type(row.created_at, Date)
      t.ok(Math.abs(row.created_at.getTime() - Date.now()) < 60_000, 'created_at is the request time')
      t.ok(row.duration_ms > 0)
      t.ok(row.upstream_ms !== null && row.upstream_ms >= 0 && row.upstream_ms <= row.duration_ms, 'upstream latency within the total')
      t.equal(row.request_headers.authorization, '[REDACTED]')
      t.equal(row.request_headers.cookie, '[REDACTED]')
      t.equal(row.request_headers['x-api-key'], '[REDACTED]')
      t.equal(row.request_headers['content-type'], 'application/json')
      t.same(row.response_headers['set-cookie'], '[REDACTED]')
      t.equal(row.response_headers['x-service'], 'users')
      t.same(JSON.parse(row.request_body!), { name: 'ann', password: '[REDACTED]', nested: { client_secret: '[REDACTED]', list: [{ token: '[REDACTED]' }] } })
      t.same(JSON.parse(row.response_body!), { ok: true, session: { accessToken: '[REDACTED]', name: 'x' } })
      t.ok(row.bytes_out > 0)
      t.notOk(JSON.stringify(row).includes('hunter2'))
      t.notOk(JSON.stringify(row).includes('tok-123'))
    })

    t.test('form bodies, parsed routes, caps and binary bodies', async (t) => {
      const big = 'x'.repeat(5000)
      const upstream = await startUpstream(t, (req, res, body) => {
        if (req.url === '/gzip') {
          res.setHeader('content-type', 'application/json')
          res.setHeader('content-encoding', 'gzip')
          res.end(gzipSync('{"a":1}'))
          return
        }
        res.setHeader('content-type', 'text/plain')
        res.end(big + body.length)
      })
      const app = await tracked(t, backend, {
        services: { s: { url: upstream.url } },
        routes: [
          { path: '/form', service: 's', upstreamPath: '/form', methods: ['POST'] },
          { path: '/parsed', service: 's', upstreamPath: '/parsed', methods: ['POST'], schema: { body: { type: 'object' } } },
          { path: '/gzip', service: 's', methods: ['GET'] },
          { path: '/bin', service: 's', methods: ['POST'] }
        ]
      }, { TRACKING_MAX_BODY: '1kb' })
      await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'form-1' }, payload: 'user=ann&Password=hunter2&api_key=k&note=a%20b' })
      let row = await byRequestId(app, 'form-1')
      t.equal(row.request_body, 'user=ann&Password=[REDACTED]&api_key=[REDACTED]&note=a%20b')
      t.equal(row.response_body!.length, 1024, 'response capped at TRACKING_MAX_BODY')
      t.equal(row.response_body_truncated, true)
      t.equal(row.bytes_out, 5000 + String(47).length)

      // A body schema route: the parsed route keeps request.rawBody; a long JSON body is cut and still redacted.
      const long = JSON.stringify({ token: 'first-secret', filler: 'y'.repeat(2000), password: 'late-secret' })
      await app.inject({ method: 'POST', url: '/parsed', headers: { 'content-type': 'application/json', 'x-request-id': 'parsed-1' }, payload: long })
      row = await byRequestId(app, 'parsed-1')
      t.equal(row.request_body_truncated, true)
      t.equal(row.bytes_in, long.length)
      t.ok(row.request_body!.startsWith('{"token":"[REDACTED]","filler":"yyy'), 'a cut JSON body is redacted in its text')
      t.notOk(row.request_body!.includes('first-secret'))

      const streamed = JSON.stringify({ filler: 'z'.repeat(1010), secret: 'cut-off-secret-value' })
      await app.inject({ method: 'POST', url: '/form', headers: { 'content-type': 'application/json', 'x-request-id': 'cut-1' }, payload: streamed })
      row = await byRequestId(app, 'cut-1')
      t.notOk(row.request_body!.includes('cut-off'), 'a secret cut in half is redacted too')

      await app.inject({ method: 'GET', url: '/gzip', headers: { 'x-request-id': 'gzip-1' } })
      row = await byRequestId(app, 'gzip-1')
      t.match(row.response_body, /^\[gzip-encoded body, \d+ bytes\]$/)

      await app.inject({ method: 'POST', url: '/bin', headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'bin-1' }, payload: Buffer.from([0, 1, 2, 255]) })
      row = await byRequestId(app, 'bin-1')
      t.equal(row.request_body, '[binary body (application/octet-stream), 4 bytes]')
    })

    t.test('streamed bodies are copied as they pass, not held back', async (t) => {
      const upstream = await startUpstream(t)
      const { app, url } = await listenTracked(t, backend, {
        services: { s: { url: upstream.url } },
        routes: [{ path: '/upload', service: 's', methods: ['POST'] }]
      }, { TRACKING_MAX_BODY: '100b' })
      const parts = ['{"password":"p1",', '"a":"' + 'q'.repeat(300) + '"}']
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(url + '/upload', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'chunked-1', 'transfer-encoding': 'chunked' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode!)) })
        req.on('error', reject)
        req.write(parts[0])
        setTimeout(() => req.end(parts[1]), 20)
      })
      t.equal(status, 200)
      t.equal(upstream.requests[0].body.toString(), parts.join(''), 'the upstream got every byte')
      const row = await byRequestId(app, 'chunked-1')
      t.equal(row.bytes_in, parts.join('').length)
      t.equal(row.request_body_truncated, true)
      t.ok(row.request_body!.startsWith('{"password":"[REDACTED]","a":"qqq'))
      t.equal(row.response_body_truncated, true, 'the streamed upstream response was tapped too')
    })

    t.test('the verified identity is recorded; a 401 and a 403 from auth are rows too', async (t) => {
      const upstream = await startUpstream(t)
      const app = await tracked(t, backend, {
        services: { s: { url: upstream.url } },
        routes: [{ path: '/me', service: 's', auth: 'required' }, { path: '/admin-only', service: 's', scopes: ['admin'] }]
      }, { JWT_SECRET: SECRET })
      const token = hs256({ sub: 'user-42', tier: 'premium', scope: 'read' })
      t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'id-ok' } })).statusCode, 200)
      t.equal((await app.inject({ url: '/me', headers: { 'x-request-id': 'id-none' } })).statusCode, 401)
      t.equal((await app.inject({ url: '/admin-only', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'id-scope' } })).statusCode, 403)
      t.match(await byRequestId(app, 'id-ok'), { status_code: 200, user_id: 'user-42', tier: 'premium', request_headers: { authorization: '[REDACTED]' } })
      t.match(await byRequestId(app, 'id-none'), { status_code: 401, user_id: null, tier: 'anonymous', error: /PORTICO_ERR_UNAUTHORIZED/, upstream_ms: null })
      t.match(await byRequestId(app, 'id-scope'), { status_code: 403, user_id: 'user-42', error: /PORTICO_ERR_FORBIDDEN/ })
      const mine = await app.inject({ url: '/admin/requests?user=user-42', headers: { authorization: 'Bearer x' } })
      t.equal(mine.statusCode, 404, 'no ADMIN_TOKEN here: the admin API is off')
    })

    t.test('a client that leaves before its response is a row too (499)', async (t) => {
      let release: () => void = () => {}
      const held = new Promise<void>((resolve) => { release = resolve })
      const upstream = await startUpstream(t, (_req, res) => { held.then(() => res.end('late')) })
      t.teardown(() => release())
      const { app, url } = await listenTracked(t, backend, {
        services: { s: { url: upstream.url } },
        routes: [{ path: '/slow', service: 's' }]
      })
      const req = httpRequest(url + '/slow', { headers: { 'x-request-id': 'gone-1' } })
      req.on('error', () => {})
      req.end()
      while (upstream.requests.length === 0) await new Promise(resolve => setTimeout(resolve, 5))
      req.destroy()
      while (app.tracking.stats().queued + app.tracking.stats().written === 0) await new Promise(resolve => setTimeout(resolve, 5))
      release()
      const row = await byRequestId(app, 'gone-1')
      t.match(row, { status_code: 499, error: /PORTICO_CLIENT_CLOSED/, path: '/slow' })
      t.ok(row.duration_ms > 0)
      t.equal(app.tracking.stats().written, 1, 'one row, not one per hook')
    })

    t.test('every outcome of a tracked route is a row; track:false, gateway endpoints and 404s are not', async (t) => {
      const upstream = await startUpstream(t)
      const db = await testDatabase(t, backend)
      const app = await buildApp({
        env: testEnv({ ...db.env, ADMIN_TOKEN: 'admin' }),
        logger: false,
        config: testConfig({
          services: { s: { url: upstream.url }, down: { url: `http://127.0.0.1:${await freePort()}` } },
          routes: [
            { path: '/ok', service: 's' },
            { path: '/quiet', service: 's', track: false },
            { path: '/down', service: 'down' },
            { path: '/valid/:id', service: 's', schema: { params: { type: 'object', properties: { id: { type: 'integer' } } } } },
            { path: '/small', service: 's', bodyLimit: 10 }
          ]
        })
      })
      // Stands in for auth / rate limit: an error raised in a hook before the handler.
      app.addHook('onRequest', async (request) => {
        if (request.headers['x-deny'] !== undefined) throw Object.assign(new Error('denied'), { statusCode: 401, code: 'PORTICO_ERR_TEST_DENIED' })
      })
      t.teardown(() => app.close())
      await app.ready()
      const send = (url: string, extra: Record<string, unknown> = {}) => app.inject({ url, ...extra })
      t.equal((await send('/ok', { headers: { 'x-request-id': 'ok' } })).statusCode, 200)
      t.equal((await send('/quiet', { headers: { 'x-request-id': 'quiet' } })).statusCode, 200)
      t.equal((await send('/down', { headers: { 'x-request-id': 'down' } })).statusCode, 503)
      t.equal((await send('/valid/abc', { headers: { 'x-request-id': 'invalid' } })).statusCode, 400)
      t.equal((await send('/ok', { headers: { 'x-request-id': 'denied', 'x-deny': '1' } })).statusCode, 401)
      t.equal((await send('/small', { method: 'POST', payload: 'x'.repeat(50), headers: { 'x-request-id': 'large', 'content-type': 'text/plain' } })).statusCode, 413)
      t.equal((await send('/nowhere', { headers: { 'x-request-id': 'nowhere' } })).statusCode, 404)
      t.equal((await send('/health', { headers: { 'x-request-id': 'health' } })).statusCode, 200)
      t.equal((await send('/admin/requests', { headers: { 'x-request-id': 'admin', authorization: 'Bearer admin' } })).statusCode, 200)
      const all = await rows(app)
      const byId = new Map(all.map(r => [r.request_id, r]))
      t.same([...byId.keys()].sort(), ['denied', 'down', 'invalid', 'large', 'ok'])
      t.match(byId.get('down'), { status_code: 503, error: /PORTICO_ERR_UPSTREAM_UNAVAILABLE: down service unavailable/, service: 'down' })
      t.match(byId.get('invalid'), { status_code: 400, error: /FST_ERR_VALIDATION/ })
      t.match(byId.get('denied'), { status_code: 401, error: 'PORTICO_ERR_TEST_DENIED: denied', upstream_ms: null })
      t.match(byId.get('large'), { status_code: 413, error: /PORTICO_ERR_BODY_TOO_LARGE/ })
      t.equal(app.tracking.stats().written, 5)
    })
  })
}

async function listenTracked (t: TestContext, backend: Backend, config: unknown, env: Record<string, string> = {}) {
  const db = await testDatabase(t, backend)
  return listen(t, { config, env: { ...db.env, ...env } })
}

t.test('TRACKING_ENABLED=false opens no database and answers the admin read with 404', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    config: { services: { s: { url: upstream.url } }, routes: [{ path: '/ok', service: 's' }] },
    env: { TRACKING_ENABLED: 'false', ADMIN_TOKEN: 'admin' }
  })
  t.equal((await app.inject('/ok')).statusCode, 200)
  t.equal(app.tracking.enabled, false)
  const res = await app.inject({ url: '/admin/requests', headers: { authorization: 'Bearer admin' } })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { message: /tracking is disabled/ })
})

t.test('a queue byte bound that cannot hold one full row refuses to start, naming the option', async (t) => {
  await t.rejects(build(t, {
    config: { services: { s: { url: 'http://127.0.0.1:9' } }, routes: [{ path: '/ok', service: 's' }] },
    env: { TRACKING_ENABLED: 'true', TRACKING_MAX_BODY: '1mb', TRACKING_QUEUE_MAX_BYTES: '1mb' }
  }), { message: /portico-tracking: invalid options: \/queueMaxBytes \(1048576\) must hold at least one row with two full body captures: 2115584 bytes/ })
})
