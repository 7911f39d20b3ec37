import t from 'tap'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import http from 'node:http'
import { build, freePort, listen, startUpstream } from '../helper.ts'

const route = (extra: object = {}) => ({ path: '/api/x', service: 'svc', upstreamPath: '/x', ...extra })

t.test('upstream refusing connections → 503 "svc service unavailable"', async (t) => {
  const port = await freePort()
  const app = await build(t, { config: { services: { svc: { url: `http://127.0.0.1:${port}` } }, routes: [route()] } })
  const res = await app.inject({ url: '/api/x', headers: { 'x-request-id': 'abc-123' } })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, error: 'Service Unavailable', message: 'svc service unavailable', requestId: 'abc-123' })
  t.equal(res.headers['x-service'], 'svc')
})

t.test('slow upstream → 504 at the route timeout, service timeout, or default', async (t) => {
  const upstream = await startUpstream(t, (_req, res) => { setTimeout(() => res.end('late'), 1500).unref() })
  const app = await build(t, {
    env: { UPSTREAM_TIMEOUT: '10s' },
    config: {
      services: { svc: { url: upstream.url, timeout: '300ms' } },
      routes: [route(), route({ path: '/api/fast', timeout: '100ms' })]
    }
  })
  let started = Date.now()
  let res = await app.inject({ url: '/api/x' })
  let elapsed = Date.now() - started
  t.equal(res.statusCode, 504)
  t.equal(res.json().message, 'svc service timed out')
  t.ok(elapsed >= 280 && elapsed < 1200, `service timeout honoured (${elapsed}ms)`)
  started = Date.now()
  res = await app.inject({ url: '/api/fast' })
  elapsed = Date.now() - started
  t.equal(res.statusCode, 504)
  t.ok(elapsed >= 90 && elapsed < 280, `route timeout overrides the service's (${elapsed}ms)`)
})

t.test('garbage from the upstream → 502', async (t) => {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end('this is not HTTP at all\r\n\r\n'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const app = await build(t, { config: { services: { svc: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }, routes: [route()] } })
  const res = await app.inject({ url: '/api/x' })
  t.equal(res.statusCode, 502)
  t.equal(res.json().error, 'Bad Gateway')
  t.equal(res.json().message, 'svc service sent an invalid response')
})

t.test('upstream dropping the connection after reading the request → 502', async (t) => {
  const server = net.createServer((socket) => { socket.once('data', () => socket.end()) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const app = await build(t, { config: { services: { svc: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } }, routes: [route()] } })
  const res = await app.inject({ url: '/api/x' })
  t.equal(res.statusCode, 502)
})

t.test('upstream 5xx statuses pass through untouched (they are answers, not failures)', async (t) => {
  const upstream = await startUpstream(t, (_req, res) => { res.statusCode = 503; res.setHeader('retry-after', '7'); res.end('{"upstream":"busy"}') })
  const app = await build(t, { config: { services: { svc: { url: upstream.url } }, routes: [route()] } })
  const res = await app.inject({ url: '/api/x' })
  t.equal(res.statusCode, 503)
  t.equal(res.body, '{"upstream":"busy"}')
  t.equal(res.headers['retry-after'], '7')
  t.equal(upstream.requests.length, 1, 'not retried by the proxy')
})

t.test('validation: 400 naming the failing field, upstream never called', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    config: {
      services: { svc: { url: upstream.url } },
      routes: [{
        path: '/api/users/:id',
        service: 'svc',
        upstreamPath: '/users/:id',
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]+$' } } },
          querystring: { type: 'object', properties: { limit: { type: 'integer', maximum: 10 } } },
          body: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, age: { type: 'integer' } } }
        }
      }]
    }
  })
  const cases = [
    { url: '/api/users/abc', method: 'GET' as const, message: 'params/id must match pattern "^[0-9]+$"' },
    { url: '/api/users/1?limit=50', method: 'GET' as const, message: 'querystring/limit must be <= 10' },
    { url: '/api/users/1', method: 'POST' as const, payload: { age: 3 }, message: "body must have required property 'name'" },
    { url: '/api/users/1', method: 'POST' as const, payload: { name: 'x', age: 'old' }, message: 'body/age must be integer' }
  ]
  for (const c of cases) {
    const res = await app.inject({ method: c.method, url: c.url, payload: c.payload })
    t.equal(res.statusCode, 400, c.url)
    t.equal(res.json().message, c.message)
    t.equal(res.json().error, 'Bad Request')
  }
  const malformed = await app.inject({ method: 'POST', url: '/api/users/1', payload: '{"name":', headers: { 'content-type': 'application/json' } })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().message, 'body is not valid JSON')
  const wrongType = await app.inject({ method: 'POST', url: '/api/users/1', payload: '<xml/>', headers: { 'content-type': 'application/xml' } })
  t.equal(wrongType.statusCode, 415)
  t.equal(upstream.requests.length, 0)

  const ok = await app.inject({ method: 'POST', url: '/api/users/7?limit=3', payload: '{ "name" : "Ada",\n "extra": true }', headers: { 'content-type': 'application/json; charset=utf-8' } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.json().body, '{ "name" : "Ada",\n "extra": true }', 'validated body forwarded byte for byte')
  t.equal(ok.json().headers['content-type'], 'application/json; charset=utf-8')
  const form = await app.inject({ method: 'POST', url: '/api/users/7', payload: 'name=Ada&age=3', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(form.statusCode, 200)
  t.equal(form.json().body, 'name=Ada&age=3')
})

t.test('413 past the body limit, declared or chunked; the route can raise it', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    env: { BODY_LIMIT: '1kb' },
    config: {
      services: { svc: { url: upstream.url } },
      routes: [route(), route({ path: '/api/big', bodyLimit: '8kb' }), route({ path: '/api/json', schema: { body: { type: 'object' } } })]
    }
  })
  const big = 'x'.repeat(2048)
  let res = await app.inject({ method: 'POST', url: '/api/x', payload: big, headers: { 'content-type': 'text/plain' } })
  t.equal(res.statusCode, 413)
  t.equal(res.json().message, 'request body is larger than 1024 bytes')
  res = await app.inject({ method: 'POST', url: '/api/json', payload: JSON.stringify({ a: big }), headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 413)
  res = await app.inject({ method: 'POST', url: '/api/big', payload: big, headers: { 'content-type': 'text/plain' } })
  t.equal(res.statusCode, 200, 'route bodyLimit overrides BODY_LIMIT')
  t.equal(res.json().body.length, 2048)
  t.equal(upstream.requests.length, 1)
})

t.test('404 for unknown paths is JSON', async (t) => {
  const app = await build(t, { config: { services: { svc: { url: 'http://127.0.0.1:1' } }, routes: [route({ methods: ['GET'] })] } })
  const res = await app.inject({ url: '/nope?x=1', headers: { 'x-request-id': 'r1' } })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { statusCode: 404, error: 'Not Found', message: 'Route GET:/nope not found', requestId: 'r1' })
  const wrongMethod = await app.inject({ method: 'DELETE', url: '/api/x' })
  t.equal(wrongMethod.statusCode, 404)
})

t.test('dot-segments that would climb out of the upstream path → 400 (raw paths over a real socket)', async (t) => {
  const upstream = await startUpstream(t)
  const { url } = await listen(t, {
    config: {
      services: { svc: { url: upstream.url } },
      routes: [
        { path: '/api/files/*', service: 'svc', upstreamPath: '/files/*' },
        { path: '/api/users/:id', service: 'svc', upstreamPath: '/users/:id' }
      ]
    }
  })
  for (const path of ['/api/files/../admin', '/api/files/a/%2e%2e/%2e%2e/admin', '/api/files/%252e%252e/x', '/api/users/..', '/api/users/%2E%2E', '/api/users/..%2Fadmin', '/api/files/a\\..\\b']) {
    const res = await rawGet(url, path)
    t.equal(res.status, 400, path)
    t.equal(JSON.parse(res.body).message, 'path must not contain dot-segments')
  }
  t.equal(upstream.requests.length, 0)
  const fine = await rawGet(url, '/api/files/docs/v1.2/read..me.txt?x=..')
  t.equal(fine.status, 200)
  t.equal(JSON.parse(fine.body).url, '/files/docs/v1.2/read..me.txt?x=..')
  const encoded = await rawGet(url, '/api/users/a%20b%2Fc')
  t.equal(JSON.parse(encoded.body).url, '/users/a%20b%2Fc', 'a param is re-encoded, so an encoded slash stays inside its segment')
})

/** A GET with the path sent exactly as given (no client-side normalisation). */
function rawGet (base: string, path: string): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + '/', { path }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode!, body }))
    })
    req.on('error', reject)
    req.end()
  })
}
