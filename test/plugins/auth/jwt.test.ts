import t from 'tap'
import { build, startUpstream } from '../../helper.ts'
import { buildProbed } from './probe.ts'
import { SECRET, hs256, unsigned, confused, rsaKeyPair, ecKeyPair, signWith } from './tokens.ts'

const now = () => Math.floor(Date.now() / 1000)

function config (upstreamUrl: string) {
  return {
    services: { echo: { url: upstreamUrl } },
    routes: [
      { path: '/open', service: 'echo' },
      { path: '/optional', service: 'echo', auth: 'optional' },
      { path: '/private', service: 'echo', auth: 'required' },
      { path: '/admin', service: 'echo', scopes: ['admin:write', 'users:read'] }
    ]
  }
}

t.test('HS256: a valid token gives the upstream the identity headers', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const token = hs256({ sub: 'u-1', email: 'ada@example.com', scope: 'users:read orders:read', tier: 'premium' }, { expiresIn: 60_000 })
  const res = await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 200)
  const seen = upstream.requests.at(-1)!.headers
  t.equal(seen['x-user-id'], 'u-1')
  t.equal(seen['x-user-email'], 'ada@example.com')
  t.equal(seen['x-user-scopes'], 'users:read orders:read')
  t.equal(seen['x-user-tier'], 'premium')
  t.equal(seen.authorization, `Bearer ${token}`, 'the token itself is forwarded')

  // `scopes` as an array, no tier → default
  const res2 = await app.inject({ url: '/private', headers: { authorization: `bearer ${hs256({ sub: 'u-2', scopes: ['a', 'b'] })}` } })
  t.equal(res2.statusCode, 200, 'scheme is case-insensitive')
  t.equal(upstream.requests.at(-1)!.headers['x-user-scopes'], 'a b')
  t.equal(upstream.requests.at(-1)!.headers['x-user-tier'], 'default')
  t.notOk('x-user-email' in upstream.requests.at(-1)!.headers)
})

t.test('required without credentials: 401 with WWW-Authenticate; optional and none pass anonymously', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const res = await app.inject({ url: '/private' })
  t.equal(res.statusCode, 401)
  t.equal(res.headers['www-authenticate'], 'Bearer realm="portico"')
  t.match(res.json(), { statusCode: 401, error: 'Unauthorized', message: 'authentication required', requestId: String })
  t.equal(upstream.requests.length, 0, 'nothing reached the upstream')
  t.equal((await app.inject({ method: 'HEAD', url: '/private' })).statusCode, 401, 'the HEAD route Fastify adds is protected too')

  t.equal((await app.inject({ url: '/optional' })).statusCode, 200)
  t.notOk('x-user-id' in upstream.requests.at(-1)!.headers)
  t.equal((await app.inject({ url: '/open', headers: { authorization: 'Bearer garbage' } })).statusCode, 200, 'auth: none never reads credentials')
})

t.test('every bad credential → 401, never a crash, on required and optional routes', async (t) => {
  const upstream = await startUpstream(t)
  const rsa = rsaKeyPair()
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET, JWT_ISSUER: 'https://idp.example', JWT_AUDIENCE: 'portico,other' } })
  const good = { sub: 'u-1', iss: 'https://idp.example', aud: 'portico' }
  t.equal((await app.inject({ url: '/private', headers: { authorization: `Bearer ${hs256(good)}` } })).statusCode, 200, 'control: the good token passes')

  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['Bearer alone', { authorization: 'Bearer' }, /bearer token is missing/],
    ['Bearer and spaces', { authorization: 'Bearer    ' }, /bearer token is missing/],
    ['garbage', { authorization: 'Bearer garbage' }, /malformed token/],
    ['garbage with dots', { authorization: 'Bearer a.b.c' }, /malformed token|invalid token/],
    ['not b64token characters', { authorization: 'Bearer {"alg":"none"}' }, /malformed token/],
    ['wrong signature', { authorization: `Bearer ${hs256(good, { secret: 'another-secret-another-secret-12345' })}` }, /signature is invalid/],
    ['tampered payload', { authorization: `Bearer ${tamper(hs256(good))}` }, /signature is invalid/],
    ['expired', { authorization: `Bearer ${hs256({ ...good, exp: now() - 10 })}` }, /expired/],
    ['not yet valid', { authorization: `Bearer ${hs256({ ...good, nbf: now() + 3600 })}` }, /not yet valid/],
    ['wrong issuer', { authorization: `Bearer ${hs256({ ...good, iss: 'https://evil.example' })}` }, /issuer/],
    ['no issuer', { authorization: `Bearer ${hs256({ sub: 'u-1', aud: 'portico' })}` }, /issuer|iss/],
    ['wrong audience', { authorization: `Bearer ${hs256({ ...good, aud: 'someone-else' })}` }, /audience/],
    ['alg none', { authorization: `Bearer ${unsigned(good)}` }, /algorithm|not signed|malformed/],
    ['HS256 signed with the RSA public key text', { authorization: `Bearer ${confused(rsa.publicPem, good)}` }, /signature is invalid/],
    ['RS256 token against an HS256 secret', { authorization: `Bearer ${signWith(rsa, 'RS256', good)}` }, /algorithm/],
    ['10 KB token', { authorization: `Bearer ${'a'.repeat(10 * 1024)}` }, /too long/],
    ['Basic scheme', { authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }, /scheme must be Bearer/],
    ['token in another scheme', { authorization: `Token ${hs256(good)}` }, /scheme must be Bearer/],
    ['no subject', { authorization: `Bearer ${hs256({ iss: good.iss, aud: good.aud })}` }, /subject/],
    ['control character in a claim', { authorization: `Bearer ${hs256({ ...good, email: 'a\r\nX-Evil: 1' })}` }, /header value/]
  ]
  for (const [name, headers, message] of cases) {
    for (const url of ['/private', '/optional']) {
      const res = await app.inject({ url, headers })
      t.equal(res.statusCode, 401, `${name} on ${url}`)
      t.match(res.headers['www-authenticate'], /^Bearer realm="portico"/, `${name}: challenge`)
      t.match(res.json().message, message, `${name}: message`)
    }
  }
  t.equal(upstream.requests.length, 1, 'only the good token reached the upstream')
  t.equal((await app.inject({ url: '/private', headers: { authorization: `Bearer ${hs256(good)}` } })).statusCode, 200, 'still serving after all of it')
})

t.test('scopes: 403 naming the missing ones; all held passes', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const res = await app.inject({ url: '/admin', headers: { authorization: `Bearer ${hs256({ sub: 'u', scope: 'users:read' })}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.json().message, 'missing scope: admin:write')
  t.equal(res.headers['www-authenticate'], 'Bearer realm="portico", error="insufficient_scope", scope="admin:write users:read"')
  const none = await app.inject({ url: '/admin', headers: { authorization: `Bearer ${hs256({ sub: 'u' })}` } })
  t.equal(none.json().message, 'missing scopes: admin:write, users:read')
  t.equal((await app.inject({ url: '/admin' })).statusCode, 401, 'scopes imply auth: required')
  t.equal(upstream.requests.length, 0)
  const ok = await app.inject({ url: '/admin', headers: { authorization: `Bearer ${hs256({ sub: 'u', scopes: ['users:read', 'admin:write', 'x'] })}` } })
  t.equal(ok.statusCode, 200)
})

t.test('spoofed identity headers never reach the upstream', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const spoof = { 'x-user-id': 'admin', 'X-User-Email': 'root@example.com', 'x-user-scopes': 'admin:write', 'x-user-tier': 'premium' }
  for (const url of ['/open', '/optional']) {
    t.equal((await app.inject({ url, headers: spoof })).statusCode, 200)
    const seen = upstream.requests.at(-1)!.headers
    for (const name of ['x-user-id', 'x-user-email', 'x-user-scopes', 'x-user-tier']) t.notOk(name in seen, `${url}: ${name} removed`)
  }
  const token = hs256({ sub: 'real-user', scope: 'users:read' })
  t.equal((await app.inject({ url: '/private', headers: { ...spoof, authorization: `Bearer ${token}` } })).statusCode, 200)
  const seen = upstream.requests.at(-1)!.headers
  t.equal(seen['x-user-id'], 'real-user')
  t.notOk('x-user-email' in seen, 'the spoofed email is gone, not kept beside the real identity')
  t.equal(seen['x-user-scopes'], 'users:read')
  t.equal(seen['x-user-tier'], 'default')
  const rejected = await app.inject({ url: '/private', headers: spoof })
  t.equal(rejected.statusCode, 401, 'headers alone are no identity')
})

t.test('the verified-token cache still honours exp', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } })
  const token = hs256({ sub: 'u', exp: now() + 1 })
  t.equal((await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.equal((await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'cached')
  // exp has 1 s resolution: wait until it has certainly passed.
  await new Promise(resolve => setTimeout(resolve, (now() + 2) * 1000 - Date.now()))
  const res = await app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 401)
  t.match(res.json().message, /expired/)
})

t.test('JWT_PUBLIC_KEY: RS256 and ES256 keys, each pinned to its own algorithms', async (t) => {
  const upstream = await startUpstream(t)
  const rsa = rsaKeyPair()
  const ec = ecKeyPair()
  const rsApp = await build(t, { config: config(upstream.url), env: { JWT_PUBLIC_KEY: rsa.publicPem.replace(/\n/g, '\\n') } })
  t.equal((await rsApp.inject({ url: '/private', headers: { authorization: `Bearer ${signWith(rsa, 'RS256', { sub: 'r' })}` } })).statusCode, 200, 'RS256 with escaped-newline PEM')
  t.equal((await rsApp.inject({ url: '/private', headers: { authorization: `Bearer ${confused(rsa.publicPem, { sub: 'r' })}` } })).statusCode, 401, 'HS256 forged with the public key')
  t.equal((await rsApp.inject({ url: '/private', headers: { authorization: `Bearer ${unsigned({ sub: 'r' })}` } })).statusCode, 401, 'alg none')
  t.equal((await rsApp.inject({ url: '/private', headers: { authorization: `Bearer ${signWith(ec, 'ES256', { sub: 'r' })}` } })).statusCode, 401, 'ES256 token against an RSA key')
  t.equal((await rsApp.inject({ url: '/private', headers: { authorization: `Bearer ${signWith(rsaKeyPair(), 'RS256', { sub: 'r' })}` } })).statusCode, 401, 'another RSA key')

  const ecApp = await build(t, { config: config(upstream.url), env: { JWT_PUBLIC_KEY: ec.publicPem } })
  t.equal((await ecApp.inject({ url: '/private', headers: { authorization: `Bearer ${signWith(ec, 'ES256', { sub: 'e' })}` } })).statusCode, 200, 'ES256')
  t.equal((await ecApp.inject({ url: '/private', headers: { authorization: `Bearer ${confused(ec.publicPem, { sub: 'e' })}` } })).statusCode, 401, 'HS256 forged with the EC public key')
  t.equal(upstream.requests.length, 2)
})

t.test('RATE_LIMIT_TRUST_HEADERS: header identity for limits only, never forwarded, never authenticates', async (t) => {
  const upstream = await startUpstream(t)
  let seen: unknown = 'unset'
  const app = await buildProbed(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET, RATE_LIMIT_TRUST_HEADERS: 'true' } }, (identity) => { seen = identity })
  await app.inject({ url: '/open', headers: { 'x-user-id': 'edge-user', 'x-user-tier': 'premium' } })
  t.same(seen, { id: 'edge-user', scopes: [], tier: 'premium', via: 'header' })
  t.notOk('x-user-id' in upstream.requests.at(-1)!.headers, 'not forwarded as if verified')
  await app.inject({ url: '/optional', headers: { 'x-user-id': 'edge-user' } })
  t.same(seen, { id: 'edge-user', scopes: [], tier: 'default', via: 'header' })
  t.equal((await app.inject({ url: '/private', headers: { 'x-user-id': 'edge-user' } })).statusCode, 401)
  await app.inject({ url: '/optional', headers: { 'x-user-id': 'edge-user', authorization: `Bearer ${hs256({ sub: 'real' })}` } })
  t.match(seen, { id: 'real', via: 'jwt' }, 'a verified identity wins')

  let offSeen: unknown = 'unset'
  const off = await buildProbed(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET } }, (identity) => { offSeen = identity })
  await off.inject({ url: '/open', headers: { 'x-user-id': 'edge-user' } })
  t.equal(offSeen, null, 'off by default')
})

function tamper (token: string): string {
  const [h, p, s] = token.split('.')
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
  return [h, Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url'), s].join('.')
}

t.test('CORS preflight on a protected route is answered before auth', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url), env: { JWT_SECRET: SECRET, CORS_ORIGINS: 'https://app.example' } })
  const res = await app.inject({ method: 'OPTIONS', url: '/private', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
  t.equal(res.statusCode, 204)
  t.equal(upstream.requests.length, 0)
})
