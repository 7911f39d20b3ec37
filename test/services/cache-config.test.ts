import t from 'tap'
import { parseConfig } from '../../services/config/load-config.ts'
import { ConfigError } from '../../services/config/config-error.ts'
import { loadEnv } from '../../services/config/env.ts'

const services = { up: { url: 'http://127.0.0.1:9' } }
const problems = (routes: unknown[]): string[] => {
  try {
    parseConfig(JSON.stringify({ services, routes }), 'gateway.json')
    return []
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return err.problems
  }
}

t.test('valid cache and invalidates keys normalise', async (t) => {
  const config = parseConfig(JSON.stringify({
    services,
    routes: [
      { path: '/a', methods: ['GET'], service: 'up', cache: true },
      { path: '/b/:id', methods: ['GET', 'PUT'], service: 'up', cache: { ttl: '90s', vary: ['Accept-Language'], statuses: [200, 404] }, invalidates: ['/b/:id', '/b/*'] },
      { path: '/c', methods: ['GET'], service: 'up', cache: false }
    ]
  }), 'gateway.json')
  t.same(config.routes[0].cache, { vary: [], statuses: [200] })
  t.same(config.routes[1].cache, { ttl: 90_000, vary: ['accept-language'], statuses: [200, 404] })
  t.same(config.routes[1].invalidates, ['/b/:id', '/b/*'])
  t.equal(config.routes[2].cache, undefined)
})

t.test('bad values name the place and what was expected', async (t) => {
  t.same(problems([{ path: '/a', methods: ['POST'], service: 'up', cache: true }]),
    ["routes[0].cache: only GET responses are cached (HEAD is answered from the GET entry), but this route's methods are POST; add GET or remove cache"])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: { ttl: 'soon' } }]),
    ['routes[0].cache.ttl: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "soon"'])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: { ttl: 0 } }]),
    ['routes[0].cache.ttl: expected a duration above 0, got 0'])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: { vary: ['bad header'] } }]),
    ['routes[0].cache.vary[0]: expected a header name, got "bad header"'])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: { statuses: [99] } }]),
    ['routes[0].cache.statuses[0]: expected an HTTP status from 200 to 599, got 99'])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: { tll: '1m' } }]),
    ['routes[0].cache.tll: unknown key; expected one of ttl, vary, statuses'])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', cache: 'yes' }]),
    ['routes[0].cache: expected true, false or an object with ttl, vary, statuses, got "yes"'])
  t.same(problems([{ path: '/a/:id', methods: ['PUT'], service: 'up', invalidates: ['a'] }]),
    ['routes[0].invalidates[0]: expected a path pattern starting with /, got "a"'])
  t.same(problems([{ path: '/a/:id', methods: ['PUT'], service: 'up', invalidates: ['/a/:other', '/a/*/b'] }]), [
    'routes[0].invalidates[0]: parameter :other is not in the route path "/a/:id"',
    'routes[0].invalidates[1]: a wildcard is only allowed as a last segment /*, got "/a/*/b"'
  ])
  t.same(problems([{ path: '/a', methods: ['GET'], service: 'up', invalidates: ['/a'] }]),
    ["routes[0].invalidates: purges run after a 2xx of POST, PUT, PATCH or DELETE, but this route's methods are GET"])
})

t.test('cache env variables', async (t) => {
  const env = loadEnv({})
  t.equal(env.CACHE_TTL, 300_000)
  t.equal(env.CACHE_MAX_ENTRY, 1024 * 1024)
  t.equal(env.CACHE_MAX_MEMORY, 64 * 1024 * 1024)
  const envProblems = (vars: Record<string, string>) => {
    try {
      loadEnv(vars)
      return []
    } catch (err) {
      return (err as ConfigError).problems
    }
  }
  t.same(envProblems({ CACHE_TTL: 'forever' }), ['CACHE_TTL: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "forever"'])
  t.same(envProblems({ CACHE_MAX_ENTRY: 'big' }), ['CACHE_MAX_ENTRY: expected a size like 512kb, 1mb or a number of bytes, got "big"'])
})
