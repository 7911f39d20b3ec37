import t from 'tap'
import { parseConfig } from '../../../services/config/load-config.ts'
import { ConfigError } from '../../../services/config/config-error.ts'

function problems (service: unknown): string[] {
  try {
    parseConfig(JSON.stringify({ services: { users: service }, routes: [] }), 'gateway.json')
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

t.test('resilience keys: each bad value gets one exact message', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{}, 'services.users: expected exactly one of `url` or `urls`, got neither'],
    [{ url: 'http://a:1', urls: ['http://b:1'] }, 'services.users: expected exactly one of `url` or `urls`, got both'],
    [{ urls: 'http://a:1' }, 'services.users.urls: expected a list of distinct http:// or https:// URLs, got "http://a:1"'],
    [{ urls: ['http://a:1', 'ftp://b'] }, 'services.users.urls[1]: expected an http:// or https:// URL, got "ftp://b"'],
    [{ urls: ['http://a:1', 'http://a:1'] }, 'services.users.urls: expected a list of distinct http:// or https:// URLs, got ["http://a:1","http://a:1"]'],
    [{ url: 'http://a:1', retries: 9 }, 'services.users.retries: expected an integer from 0 to 5, got 9'],
    [{ url: 'http://a:1', balance: 'random' }, 'services.users.balance: expected "round-robin" or "least-connections", got "random"'],
    [{ url: 'http://a:1', health: { path: '/h', interval: 'often' } }, 'services.users.health.interval: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "often"'],
    [{ url: 'http://a:1', health: { path: '/h', interval: '1s', timeout: '2s' } }, 'services.users.health.timeout: expected less than health.interval (1s), got "2s"'],
    [{ url: 'http://a:1', health: { path: '/h', unhealthyThreshold: 0 } }, 'services.users.health.unhealthyThreshold: expected an integer from 1 to 100, got 0'],
    [{ url: 'http://a:1', circuitBreaker: true }, 'services.users.circuitBreaker: expected false or an object with failureThreshold and resetTimeout, got true'],
    [{ url: 'http://a:1', circuitBreaker: { failureThreshold: 0 } }, 'services.users.circuitBreaker.failureThreshold: expected an integer from 1 to 1000, got 0'],
    [{ url: 'http://a:1', circuitBreaker: { resetTimeout: 'soon' } }, 'services.users.circuitBreaker.resetTimeout: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "soon"'],
    [{ url: 'http://a:1', circuitBreaker: { threshold: 3 } }, 'services.users.circuitBreaker.threshold: unknown key; expected one of failureThreshold, resetTimeout']
  ]
  for (const [service, message] of cases) t.same(problems(service), [message], message)
})

t.test('defaults and normalisation', async (t) => {
  const config = parseConfig(JSON.stringify({
    services: {
      one: { url: 'http://a:1/' },
      many: { urls: ['http://a:1', 'http://b:2/'], retries: 2, balance: 'least-connections', health: { path: '/health', interval: '500ms' }, circuitBreaker: false },
      registered: { urls: [] }
    },
    routes: []
  }), 'gateway.json')
  t.same(config.services.one, { name: 'one', url: 'http://a:1', urls: ['http://a:1'], timeout: undefined, retries: 0, balance: 'round-robin', health: undefined, circuitBreaker: { failureThreshold: 5, resetTimeout: 30_000 } })
  t.same(config.services.many.urls, ['http://a:1', 'http://b:2'])
  t.same(config.services.many.health, { path: '/health', interval: 500, timeout: 500, healthyThreshold: 2, unhealthyThreshold: 3 }, 'probe timeout defaults to min(2s, interval)')
  t.equal(config.services.many.circuitBreaker, false)
  t.same(config.services.registered.urls, [], 'urls: [] = registry only')
  t.equal(config.services.registered.url, '')
})
