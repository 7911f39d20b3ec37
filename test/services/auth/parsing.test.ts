import t from 'tap'
import { bearerToken, MAX_TOKEN_LENGTH } from '../../../services/auth/authenticator.ts'
import { identityFromClaims, identityFromVerifyResponse } from '../../../services/auth/claims.ts'
import { withoutCookie } from '../../../plugins/auth/index.ts'

t.test('bearerToken', async (t) => {
  t.equal(bearerToken('Bearer abc.def-ghi_jkl'), 'abc.def-ghi_jkl')
  t.equal(bearerToken('BEARER   abc=='), 'abc==', 'scheme case-insensitive, padding allowed')
  for (const [header, message] of [
    ['Bearer', /missing/], ['bearer ', /missing/], ['Basic dTpw', /scheme/], ['Token abc', /scheme/], ['', /scheme/],
    ['Bearer a b', /malformed/], ['Bearer a"b', /malformed/], [`Bearer ${'a'.repeat(MAX_TOKEN_LENGTH + 1)}`, /too long/]
  ] as const) {
    t.throws(() => bearerToken(header), { kind: 'invalid', message }, JSON.stringify(header.slice(0, 20)))
  }
})

t.test('claims → identity', async (t) => {
  t.same(identityFromClaims({ sub: 'u', email: 'e@x', scope: 'a  b', scopes: ['b', 'c d'], tier: 'gold' }, 'jwt'),
    { id: 'u', email: 'e@x', scopes: ['a', 'b', 'c', 'd'], tier: 'gold', via: 'jwt' }, 'both forms, merged, de-duplicated')
  t.same(identityFromClaims({ sub: 42 }, 'jwt'), { id: '42', scopes: [], tier: 'default', via: 'jwt' }, 'numeric sub')
  t.same(identityFromVerifyResponse({ user_id: 'r', scopes: 'x y' }), { id: 'r', scopes: ['x', 'y'], tier: 'default', via: 'remote' })
  t.throws(() => identityFromClaims({ email: 'e' }, 'jwt'), /no subject/)
  t.throws(() => identityFromClaims({ sub: '' }, 'jwt'), /no subject/)
  t.throws(() => identityFromClaims({ sub: 'u\nX: y' }, 'jwt'), /header value/)
  t.throws(() => identityFromVerifyResponse({ id: 'wrong-field' }), /no user_id/)
  const frozen = identityFromClaims({ sub: 'u', scope: 'a' }, 'jwt')
  t.throws(() => { (frozen.scopes as string[]).push('admin') }, TypeError, 'shared identities cannot be mutated')
})

t.test('withoutCookie removes exactly the named cookie', async (t) => {
  t.equal(withoutCookie('a=1; session=x; b=2', 'session'), 'a=1; b=2')
  t.equal(withoutCookie('session=x', 'session'), '')
  t.equal(withoutCookie('xsession=1;session=2;  sessionx=3', 'session'), 'xsession=1; sessionx=3')
  t.equal(withoutCookie('session=a; session=b; c', 'session'), 'c')
})
