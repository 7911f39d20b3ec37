import t from 'tap'
import { request } from 'undici'
import { exampleConfigAt, listen } from '../helper.ts'
import { startExampleServices } from '../../examples/services/index.ts'
import { EXAMPLE_JWT_SECRET } from '../../examples/services/auth.ts'

/** The bundled example, over real sockets: token login, session login, identity at the upstream, logout. */
t.test('example stack: bearer and session flows end to end', async (t) => {
  const examples = await startExampleServices({ users: 0, products: 0, orders: 0, auth: 0 })
  t.teardown(() => examples.close())
  const file = exampleConfigAt(examples.urls)
  const { url } = await listen(t, { config: file, env: { JWT_SECRET: EXAMPLE_JWT_SECRET } })
  const call = async (path: string, init: { method?: string, headers?: Record<string, string>, body?: unknown } = {}) => {
    const res = await request(url + path, {
      method: (init.method ?? 'GET') as 'GET',
      headers: { ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers },
      body: init.body ? JSON.stringify(init.body) : undefined
    })
    const text = await res.body.text()
    return { status: res.statusCode, headers: res.headers, json: text ? JSON.parse(text) : undefined }
  }
  const credentials = { email: 'demo@example.com', password: 'demo-password' }

  t.equal((await call('/api/users/1')).status, 401, 'protected without credentials')
  t.equal((await call('/api/users')).status, 200, 'optional route, anonymous')

  // Token flow
  const login = await call('/auth/login', { method: 'POST', body: credentials })
  t.equal(login.status, 200)
  const bearer = { authorization: `Bearer ${login.json.token}` }
  t.equal((await call('/api/users/1', { headers: bearer })).status, 200)
  const me = await call('/auth/me', { headers: { ...bearer, 'x-user-id': 'someone-else' } })
  t.same(me.json, { id: login.json.user.id, email: 'demo@example.com', scopes: login.json.user.scopes, tier: 'premium' }, 'the upstream sees the verified user, not the spoofed header')

  // Session flow
  const session = await call('/auth/session', { method: 'POST', body: credentials })
  t.equal(session.status, 200)
  t.ok(session.json.token, 'the login body passes through unchanged')
  const setCookie = ([] as string[]).concat(session.headers['set-cookie'] ?? []).find(c => c.startsWith('session='))!
  t.match(setCookie, /HttpOnly; SameSite=Lax/)
  const cookie = { cookie: setCookie.split(';')[0] }
  t.equal((await call('/auth/me', { headers: cookie })).json.email, 'demo@example.com')
  t.equal((await call('/api/orders/1', { headers: cookie })).status, 200)
  t.equal((await call('/auth/logout', { method: 'POST', headers: cookie })).status, 200)
  t.equal((await call('/auth/me', { headers: cookie })).status, 401, 'logged out')

  // A forged session id is refused.
  t.equal((await call('/auth/me', { headers: { cookie: 'session=2b1f0c1e-0000-4000-8000-000000000000' } })).status, 401)
})
