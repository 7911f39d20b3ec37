import t from 'tap'
import { build, startUpstream } from '../helper.ts'
import { BACKENDS, testDatabase } from '../tracking-db.ts'
import { requests, type NewRequestRow } from '../../services/tracking/schema.ts'

const AUTH = { authorization: 'Bearer admin-secret' }

function row (id: string, at: number, extra: Partial<NewRequestRow> = {}): NewRequestRow {
  return {
    request_id: id, created_at: new Date(at), method: 'GET', path: '/api/users', route: '/api/users', service: 'users',
    status_code: 200, duration_ms: 1.5, request_headers: { accept: '*/*' }, response_headers: {}, ...extra
  }
}

for (const { name: backend, skip } of BACKENDS) {
  t.test(backend, { skip }, async (t) => {
    const db = await testDatabase(t, backend)
    const upstream = await startUpstream(t)
    const app = await build(t, {
      config: { services: { users: { url: upstream.url } }, routes: [{ path: '/api/users', service: 'users' }] },
      env: { ...db.env, ADMIN_TOKEN: 'admin-secret' }
    })
    const base = Date.parse('2026-01-01T00:00:00Z')
    await app.tracking.database!.db.insert(requests).values([
      row('a', base, { user_id: 'u1' }),
      row('b', base + 1000, { status_code: 404, path: '/api/users/9', route: '/api/users/:id' }),
      row('c', base + 2000, { status_code: 503, user_id: 'u2', error: 'PORTICO_ERR_UPSTREAM_UNAVAILABLE: users service unavailable' }),
      row('d', base + 3000, { status_code: 201, method: 'POST', user_id: 'u1', path: '/api/users_x' }),
      row('e', base + 4000, { status_code: 429, path: '/api/orders', route: '/api/orders', service: 'orders' })
    ])
    const list = async (query: string) => {
      const res = await app.inject({ url: '/admin/requests' + query, headers: AUTH })
      t.equal(res.statusCode, 200, query)
      return (res.json().requests as Array<{ request_id: string }>).map(r => r.request_id)
    }

    t.equal((await app.inject('/admin/requests')).statusCode, 401, 'no token')
    t.equal((await app.inject({ url: '/admin/requests', headers: { authorization: 'Bearer wrong' } })).statusCode, 401, 'wrong token')

    t.same(await list(''), ['e', 'd', 'c', 'b', 'a'], 'newest first')
    t.same(await list('?limit=2'), ['e', 'd'])
    t.same(await list('?status=404'), ['b'])
    t.same(await list('?status=5xx'), ['c'])
    t.same(await list('?status=2XX'), ['d', 'a'])
    t.same(await list('?path=/api/users'), ['c', 'a'], 'an exact path')
    t.same(await list('?path=/api/users/*'), ['b'], 'a prefix below /api/users/')
    t.same(await list('?path=/api/users_*'), ['d'], '_ is not a LIKE wildcard')
    t.same(await list('?user=u1'), ['d', 'a'])
    t.same(await list('?user=u1&status=201'), ['d'])
    t.same(await list(`?since=${new Date(base + 2000).toISOString()}`), ['e', 'd', 'c'])

    const full = await app.inject({ url: '/admin/requests?limit=1&status=503', headers: AUTH })
    t.match(full.json().requests[0], {
      id: Number, request_id: 'c', created_at: '2026-01-01T00:00:02.000Z', method: 'GET', path: '/api/users', query: null,
      route: '/api/users', service: 'users', status_code: 503, duration_ms: 1.5, user_id: 'u2', request_headers: { accept: '*/*' },
      request_body_truncated: false, bytes_in: 0, error: 'PORTICO_ERR_UPSTREAM_UNAVAILABLE: users service unavailable'
    })

    for (const bad of ['?limit=0', '?limit=5000', '?status=abc', '?status=99', '?path=users', '?since=yesterday']) {
      const res = await app.inject({ url: '/admin/requests' + bad, headers: AUTH })
      t.equal(res.statusCode, 400, `${bad} is rejected`)
      t.match(res.json(), { statusCode: 400, error: 'Bad Request' })
    }

    // A real request shows up too.
    await app.inject({ url: '/api/users', headers: { 'x-request-id': 'live-1' } })
    await app.tracking.flush()
    t.same((await list('?limit=1'))[0], 'live-1')

    const doc = (await app.inject('/docs/json')).json()
    t.ok(doc.paths['/admin/requests']?.get, 'in the OpenAPI document')
    t.ok(doc.paths['/admin/requests'].get.parameters.some((p: { name: string }) => p.name === 'status'))
  })
}

t.test('no ADMIN_TOKEN: the admin API does not exist', async (t) => {
  const db = await testDatabase(t, 'pglite')
  const app = await build(t, { config: { services: {}, routes: [] }, env: db.env })
  t.equal((await app.inject({ url: '/admin/requests', headers: AUTH })).statusCode, 404)
})
