import t from 'tap'
import { build, startUpstream } from '../../helper.ts'
import { SECRET } from './tokens.ts'

t.test('OpenAPI: bearerAuth and cookieAuth schemes, per-route security, 401/403, scopes in the description', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, {
    env: { JWT_SECRET: SECRET, SESSION_COOKIE: 'sid' },
    config: {
      services: { users: { url: upstream.url } },
      routes: [
        { path: '/api/users', methods: ['GET'], service: 'users', auth: 'optional' },
        { path: '/api/users/:id', methods: ['GET'], service: 'users', scopes: ['users:read', 'users:admin'] },
        { path: '/api/public', methods: ['GET'], service: 'users' }
      ]
    }
  })
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.same(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: doc.components.securitySchemes.bearerAuth.description })
  t.match(doc.components.securitySchemes.cookieAuth, { type: 'apiKey', in: 'cookie', name: 'sid' })

  const list = doc.paths['/api/users'].get
  t.same(list.security, [{}, { bearerAuth: [] }, { cookieAuth: [] }], 'optional: an empty requirement first')
  t.ok(list.responses['401'])
  t.notOk(list.responses['403'], 'no scopes, no 403')
  t.match(list.description, /Authentication optional/)

  const one = doc.paths['/api/users/{id}'].get
  t.same(one.security, [{ bearerAuth: [] }, { cookieAuth: [] }])
  t.match(one.responses['401'].description, /WWW-Authenticate/)
  t.match(one.responses['403'].description, /`users:read`, `users:admin`/)
  t.match(one.description, /Authentication required\*\*; scopes: `users:read`, `users:admin`/)
  t.notOk((one.parameters ?? []).some((p: { name: string }) => p.name === 'authorization'), 'the credential is not listed as a plain header')

  const open = doc.paths['/api/public'].get
  t.notOk(open.security)
  t.notOk(open.responses['401'])
})

t.test('no auth route: no security schemes in the document', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: { services: { s: { url: upstream.url } }, routes: [{ path: '/x', service: 's' }] } })
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.notOk(doc.components.securitySchemes)
})

t.test('app.close() finishes with every auth mode on', async (t) => {
  const upstream = await startUpstream(t)
  const { buildApp } = await import('../../../app.ts')
  const { testEnv, testConfig } = await import('../../helper.ts')
  const app = await buildApp({
    env: testEnv({ JWKS_URL: `${upstream.url}/jwks`, AUTH_VERIFY_URL: `${upstream.url}/verify` }),
    config: testConfig({ services: { s: { url: upstream.url } }, routes: [{ path: '/x', service: 's', auth: 'required' }] }),
    logger: false
  })
  await app.ready()
  await app.inject({ url: '/x', headers: { authorization: 'Bearer opaque' } })
  await app.inject({ url: '/x', headers: { authorization: 'Bearer a.b.c' } })
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 1000, 'closed promptly')
})
