import t from 'tap'
import { IdentityCache, MAX_CACHED_TOKEN_LENGTH } from '../../../services/auth/identity-cache.ts'

const identity = { id: 'u', scopes: [], tier: 'default', via: 'jwt' as const }

t.test('entries end at the token exp or the max TTL, whichever is first', async (t) => {
  const cache = new IdentityCache(60_000)
  const now = 1_000_000_000_000
  cache.set('a', identity, now, now / 1000 + 10)
  t.equal(cache.get('a', now + 9_999), identity)
  t.equal(cache.get('a', now + 10_000), undefined, 'gone at exp')
  cache.set('b', identity, now)
  t.equal(cache.get('b', now + 59_999), identity)
  t.equal(cache.get('b', now + 60_000), undefined, 'gone at max TTL')
  cache.set('c', identity, now, now / 1000 - 1)
  t.equal(cache.size, 0, 'an already expired token is not stored')
  cache.set('x'.repeat(MAX_CACHED_TOKEN_LENGTH + 1), identity, now)
  t.equal(cache.size, 0, 'over-long tokens are not keys')
})

t.test('bounded: the oldest entry goes first', async (t) => {
  const cache = new IdentityCache(60_000, 3)
  for (const k of ['a', 'b', 'c', 'd']) cache.set(k, identity, 0)
  t.equal(cache.size, 3)
  t.equal(cache.get('a', 1), undefined)
  t.equal(cache.get('d', 1), identity)
})
