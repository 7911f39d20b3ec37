import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPublicKey } from 'node:crypto'
import { build, startUpstream, type TestContext } from '../../helper.ts'
import { rsaKeyPair, ecKeyPair, signWith, confused, unsigned, hs256, type KeyPair } from './tokens.ts'

interface JwksServer { url: string, hits: number, keys: Array<Record<string, unknown>>, fail: boolean }

/** A real identity provider key-set endpoint on port 0; its keys can be swapped mid-test. */
async function startJwks (t: TestContext, keys: Array<Record<string, unknown>>): Promise<JwksServer> {
  const state: JwksServer = { url: '', hits: 0, keys, fail: false }
  const server = http.createServer((req, res) => {
    state.hits++
    if (state.fail) { res.statusCode = 500; res.end(); return }
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ keys: state.keys }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return state
}

const jwk = (pair: KeyPair, kid: string, extra: Record<string, unknown> = {}) =>
  ({ ...createPublicKey(pair.publicPem).export({ format: 'jwk' }), kid, use: 'sig', ...extra })

const routes = (url: string) => ({ services: { echo: { url } }, routes: [{ path: '/private', service: 'echo', auth: 'required' }] })

t.test('JWKS: keys by kid, rotation at the provider works without a restart', async (t) => {
  const upstream = await startUpstream(t)
  const first = rsaKeyPair()
  const second = ecKeyPair()
  const jwks = await startJwks(t, [jwk(first, 'k1')])
  const app = await build(t, { config: routes(upstream.url), env: { JWKS_URL: jwks.url } })
  const get = (token: string) => app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })

  t.equal((await get(signWith(first, 'RS256', { sub: 'a' }, { kid: 'k1' }))).statusCode, 200)
  t.equal((await get(signWith(first, 'RS256', { sub: 'b' }, { kid: 'k1' }))).statusCode, 200)
  t.equal(jwks.hits, 1, 'the key set was fetched once and cached')

  // The provider rotates: k1 is gone, k2 (an EC key) signs new tokens.
  jwks.keys = [jwk(second, 'k2')]
  const res = await get(signWith(second, 'ES256', { sub: 'c' }, { kid: 'k2' }))
  t.equal(res.statusCode, 200, 'unknown kid → refetch → accepted')
  t.equal(jwks.hits, 2)
  t.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'c')

  // A flood of made-up kids does not hammer the provider: at most one refetch per interval.
  for (let i = 0; i < 20; i++) {
    const bogus = await get(signWith(first, 'RS256', { sub: 'x' }, { kid: `bogus-${i}` }))
    t.equal(bogus.statusCode, 401)
    if (i === 0) t.match(bogus.json().message, /signing key is unknown/)
  }
  t.equal(jwks.hits, 2, 'no refetch within the interval')

  t.equal((await get(signWith(first, 'RS256', { sub: 'd' }, { kid: 'k1' }))).statusCode, 401, 'a token signed by the removed key')
  t.equal((await get(signWith(second, 'ES256', { sub: 'e' }, { kid: 'k1' }))).statusCode, 401, 'right key material, wrong kid')
  t.equal((await get(confused(second.publicPem, { sub: 'f' }))).statusCode, 401, 'HS256 forged with a JWKS public key')
  t.equal((await get(unsigned({ sub: 'g' }))).statusCode, 401, 'alg none')
  t.equal((await get(hs256({ sub: 'h' }, { kid: 'k2' }))).statusCode, 401, 'HS256 naming an EC kid')
})

t.test('JWKS: a token without kid uses a one-key set; an alg-pinned key refuses other algorithms', async (t) => {
  const upstream = await startUpstream(t)
  const pair = rsaKeyPair()
  const jwks = await startJwks(t, [jwk(pair, 'only', { alg: 'RS256' })])
  const app = await build(t, { config: routes(upstream.url), env: { JWKS_URL: jwks.url } })
  const get = (token: string) => app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })
  t.equal((await get(signWith(pair, 'RS256', { sub: 'a' }))).statusCode, 200, 'no kid, one key')
  const ps = (await import('fast-jwt')).createSigner({ key: pair.privatePem, algorithm: 'PS256', kid: 'only' })({ sub: 'b' })
  t.equal((await get(ps)).statusCode, 401, 'PS256 refused by a key that says RS256')
})

t.test('JWKS provider down: 503 when no key is known, known keys keep working', async (t) => {
  const upstream = await startUpstream(t)
  const pair = rsaKeyPair()
  const jwks = await startJwks(t, [jwk(pair, 'k1')])
  jwks.fail = true
  const app = await build(t, { config: routes(upstream.url), env: { JWKS_URL: jwks.url } })
  const get = (token: string) => app.inject({ url: '/private', headers: { authorization: `Bearer ${token}` } })
  const down = await get(signWith(pair, 'RS256', { sub: 'a' }, { kid: 'k1' }))
  t.equal(down.statusCode, 503)
  t.equal(down.json().message, 'auth service unavailable')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'readiness reports the key set')
  t.equal(ready.json().checks.jwks.status, 'down')

  jwks.fail = false
  t.equal((await get(signWith(pair, 'RS256', { sub: 'b' }, { kid: 'k1' }))).statusCode, 200, 'recovers')
  jwks.fail = true
  t.equal((await get(signWith(pair, 'RS256', { sub: 'c' }, { kid: 'k1' }))).statusCode, 200, 'cached keys survive a provider outage')
  t.equal((await app.inject({ url: '/health/ready' })).json().checks.jwks.status, 'up')
})
