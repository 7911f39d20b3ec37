import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPairSync } from 'node:crypto'
import { JwksKeyStore, parseJwks } from '../../../services/auth/jwks.ts'

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' })
const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).publicKey.export({ format: 'jwk' })

async function serve (t: { teardown (fn: () => unknown): void }, body: () => string | null) {
  let hits = 0
  const server = http.createServer((_req, res) => {
    hits++
    const text = body()
    if (text === null) res.statusCode = 500
    res.end(text ?? '')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, hits: () => hits }
}

t.test('parseJwks pins algorithms to each key and skips what cannot verify signatures', async (t) => {
  const { byKid, list } = parseJwks(JSON.stringify({
    keys: [
      { ...rsa(), kid: 'r' },
      { ...ec('P-256'), kid: 'e256' },
      { ...ec('P-384'), kid: 'e384', use: 'sig' },
      { ...rsa(), kid: 'enc', use: 'enc' },
      { kty: 'oct', k: 'c2VjcmV0', kid: 'shared' },
      { ...rsa(), kid: 'pinned', alg: 'RS256' },
      { ...ec('P-256'), kid: 'lying', alg: 'RS256' },
      { kty: 'RSA', kid: 'broken', n: 'xx', e: 'AQAB' },
      { ...generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' }), kid: 'weak' },
      null,
      'junk'
    ]
  }))
  t.same([...byKid.keys()], ['r', 'e256', 'e384', 'pinned'])
  t.equal(list.length, 4)
  t.same(byKid.get('r')!.algorithms, ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'])
  t.same(byKid.get('e256')!.algorithms, ['ES256'])
  t.same(byKid.get('e384')!.algorithms, ['ES384'])
  t.same(byKid.get('pinned')!.algorithms, ['RS256'])
  t.throws(() => parseJwks('nope'), /not answer JSON/)
  t.throws(() => parseJwks('{"keys": 1}'), /without a `keys` array/)
})

t.test('unknown kids refetch at most once per interval; concurrent callers share a fetch', async (t) => {
  let keys = [{ ...rsa(), kid: 'a' }]
  const server = await serve(t, () => JSON.stringify({ keys }))
  const store = new JwksKeyStore({ url: server.url, refetchInterval: 200 })
  t.ok(await store.get('a'), 'first use loads the set')
  t.equal(server.hits(), 1)
  t.equal(await store.get('zzz'), undefined, 'unknown kid after a refetch')
  t.equal(server.hits(), 2, 'one refetch')
  t.equal(await store.get('yyy'), undefined)
  t.equal(server.hits(), 2, 'rate limited')
  keys = [{ ...rsa(), kid: 'b' }]
  await new Promise(resolve => setTimeout(resolve, 220))
  const [b1, b2, b3] = await Promise.all([store.get('b'), store.get('b'), store.get('b')])
  t.ok(b1 && b1 === b2 && b2 === b3)
  t.equal(server.hits(), 3, 'three concurrent lookups, one fetch')
  t.equal(store.cached('a'), undefined, 'the rotated-out key is gone')
})

t.test('stale sets refresh in the background; failures keep the old keys', async (t) => {
  let fail = false
  const key = { ...rsa(), kid: 'a' }
  const server = await serve(t, () => fail ? null : JSON.stringify({ keys: [key] }))
  const errors: Error[] = []
  const store = new JwksKeyStore({ url: server.url, maxAge: 50, timeout: 500, onError: (err) => errors.push(err) })
  await store.refresh()
  await new Promise(resolve => setTimeout(resolve, 60))
  t.ok(store.cached('a'), 'a stale key is still served...')
  await store.refresh()
  t.equal(server.hits(), 2, '...while one refresh is started (refresh() joined it)')
  fail = true
  await new Promise(resolve => setTimeout(resolve, 60))
  t.ok(store.cached('a'))
  await t.rejects(store.refresh())
  t.ok(store.cached('a'), 'the old keys survive a failed refresh')
})

t.test('a key set that is too large or not 200 is an error', async (t) => {
  const big = await serve(t, () => JSON.stringify({ keys: [], pad: 'x'.repeat(2 * 1024 * 1024) }))
  await t.rejects(new JwksKeyStore({ url: big.url }).refresh(), /more than/)
  const server = http.createServer((_req, res) => { res.statusCode = 404; res.end() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  await t.rejects(new JwksKeyStore({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }).refresh(), /answered 404/)
})
