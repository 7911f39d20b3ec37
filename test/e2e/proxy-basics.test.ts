import t from 'tap'
import { build, startUpstream } from '../helper.ts'

t.test('forwards every method with query and body untouched', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    config: { services: { echo: { url: upstream.url } }, routes: [{ path: '/api/things/:id', service: 'echo', upstreamPath: '/things/:id' }] }
  })
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const) {
    const payload = method === 'GET' || method === 'OPTIONS' ? undefined : '{"a": 1,  "b":[2]}'
    const res = await app.inject({ method, url: '/api/things/42?b=2&a=1&a=3', payload, headers: payload ? { 'content-type': 'application/json' } : {} })
    t.equal(res.statusCode, 200, method)
    const seen = res.json()
    t.equal(seen.method, method)
    t.equal(seen.url, '/things/42?b=2&a=1&a=3', `${method} path rewritten, query as sent`)
    if (payload) t.equal(seen.body, payload, `${method} body byte for byte`)
    t.equal(res.headers['x-service'], 'echo')
  }
})

t.test('wildcard prefix: the matched rest is appended to the upstream path', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    config: { services: { files: { url: upstream.url + '/base' } }, routes: [{ path: '/api/files/*', service: 'files', upstreamPath: '/files/*' }] }
  })
  for (const [url, expected] of [
    ['/api/files/a/b.txt?download=1&x=%20y', '/base/files/a/b.txt?download=1&x=%20y'],
    ['/api/files/', '/base/files/'],
    ['/api/files/with%20space/%C3%A9t%C3%A9', '/base/files/with%20space/%C3%A9t%C3%A9']
  ]) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.equal(res.json().url, expected)
  }
})

t.test('HEAD is forwarded as HEAD and answers headers only', async (t) => {
  const upstream = await startUpstream(t, (req, res) => {
    res.setHeader('content-type', 'text/plain')
    res.setHeader('x-method', req.method!)
    res.end(req.method === 'HEAD' ? undefined : 'body')
  })
  const app = await build(t, { config: { services: { u: { url: upstream.url } }, routes: [{ path: '/r', service: 'u', methods: ['GET'] }] } })
  const res = await app.inject({ method: 'HEAD', url: '/r' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['x-method'], 'HEAD')
  t.equal(res.body, '')
})

t.test('status and headers pass back, including repeated Set-Cookie', async (t) => {
  const upstream = await startUpstream(t, (_req, res) => {
    res.statusCode = 418
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/'])
    res.setHeader('x-custom', 'yes')
    res.end('teapot')
  })
  const app = await build(t, { config: { services: { u: { url: upstream.url } }, routes: [{ path: '/r', service: 'u' }] } })
  const res = await app.inject({ url: '/r' })
  t.equal(res.statusCode, 418)
  t.equal(res.body, 'teapot')
  t.equal(res.headers['x-custom'], 'yes')
  t.same(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/'])
})

t.test('app.close() finishes with every core plugin registered, and closes the upstream pool', async (t) => {
  const upstream = await startUpstream(t)
  const { buildApp } = await import('../../app.ts')
  const { testConfig, testEnv } = await import('../helper.ts')
  const app = await buildApp({ env: testEnv({ CORS_ORIGINS: '*', ADMIN_TOKEN: 'x' }), config: testConfig({ services: { u: { url: upstream.url } }, routes: [{ path: '/r', service: 'u' }] }), logger: false })
  await app.inject({ url: '/r' })
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 1000, 'closes promptly')
})
