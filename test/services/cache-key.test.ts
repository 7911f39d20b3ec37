import t from 'tap'
import { cacheKey, sortedQuery } from '../../services/cache/key.ts'
import { canonicalPath, compilePattern, indexesOf, indexOfPattern, patternProblem, MAX_INDEXED_DEPTH } from '../../services/cache/patterns.ts'
import { computeEtag, decodeEntry, encodeEntry, etagMatches } from '../../services/cache/entry.ts'

t.test('keys: method, path, sorted query, vary values, user', async (t) => {
  t.equal(cacheKey('/a?b=2&a=1', [], {}, false, null), 'GET /a?a=1&b=2')
  t.equal(cacheKey('/a', ['accept-language', 'x-v'], { 'accept-language': 'en' }, false, null), 'GET /a\naccept-language:en\nx-v')
  t.equal(cacheKey('/a', [], {}, true, 'u1'), 'GET /a\nuser:u1')
  t.equal(cacheKey('/a', [], {}, true, null), 'GET /a\nanonymous')
  t.not(cacheKey('/a', [], {}, true, 'alice\nuser:bob'), cacheKey('/a', [], {}, true, 'bob'), 'a user id cannot forge another key')
  t.not(cacheKey('/a', ['x'], { x: '' }, false, null), cacheKey('/a', ['x'], {}, false, null), 'empty and absent differ')
})

t.test('sorted query keeps the order of repeated names', async (t) => {
  t.equal(sortedQuery(''), '')
  t.equal(sortedQuery('a=1'), '?a=1')
  t.equal(sortedQuery('b=1&a=2&a=1&&c'), '?a=2&a=1&b=1&c')
})

t.test('patterns and indexes', async (t) => {
  t.same(indexesOf('/api/users/1'), ['p:/api/users/1', 'd:/', 'd:/api/', 'd:/api/users/'])
  t.equal(indexesOf('/x'.repeat(MAX_INDEXED_DEPTH + 1)), null, 'too deep to index')
  t.equal(indexOfPattern('/api/users'), 'p:/api/users')
  t.equal(indexOfPattern('/api/users/*'), 'd:/api/users/')
  t.equal(compilePattern('/api/users/:id/orders/*').fill({ id: '4 2' }), 'd:/api/users/4%202/orders/')
  t.equal(canonicalPath('/api/users/42'), '/api/users/42', 'a plain path is its own canonical form')
  t.equal(canonicalPath('/api/users/%34%32'), '/api/users/42')
  t.equal(canonicalPath('/api/j%c3%b6rg/a:b'), '/api/j%C3%B6rg/a%3Ab', 'hex case and reserved characters as encodeURIComponent writes them')
  t.equal(canonicalPath('/api/100%/x'), '/api/100%/x', 'a segment that does not decode stays as it is')
  t.same(indexesOf('/api/users/%34%32'), indexesOf('/api/users/42'), 'however the client encoded it, an entry has one index')
  t.equal(indexOfPattern('/api/j%C3%B6rg/*'), indexOfPattern('/api/jörg/*'), 'so does an admin purge pattern')
  t.equal(compilePattern('/api/users/:id').fill({ id: 'a b:c' }), indexesOf('/api/users/a%20b%3ac')![0], 'a filled pattern meets the entry it names')
  t.equal(patternProblem('/api/:id', ['id']), null)
  t.match(patternProblem('/api/:other', ['id']), /parameter :other is not in the route path/)
  t.match(patternProblem('/api/*/x', []), /only allowed as a last segment/)
  t.match(patternProblem('/api*', []), /only allowed as a last segment/)
  t.match(patternProblem('api', []), /starting with \//)
  t.match(patternProblem('/api/:id', null), /cannot hold parameters/)
})

t.test('entries encode to bytes and back; ETags compare weakly', async (t) => {
  const body = Buffer.from([0, 1, 2, 200])
  const entry = { status: 201, headers: { a: 'b', c: ['d', 'e'] }, body, storedAt: 1, freshUntil: 2, etag: computeEtag(body), vary: { 'accept-encoding': 'gzip' } }
  const back = decodeEntry(encodeEntry(entry))!
  t.same({ ...back, body: Buffer.from(back.body) }, entry)
  t.equal(decodeEntry(Buffer.from('garbage')), null)
  t.equal(decodeEntry(Buffer.from([1, 0, 0, 1, 0])), null, 'truncated')
  t.ok(etagMatches('W/"x"', '"x"'))
  t.ok(etagMatches('"a", "x"', 'W/"x"'))
  t.ok(etagMatches('*', '"x"'))
  t.notOk(etagMatches('"y"', '"x"'))
})
