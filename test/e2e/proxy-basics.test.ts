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
