import t from 'tap'
import { TargetPool } from '../../../services/upstream/target-pool.ts'

const log = { info: () => {}, warn: () => {} }
const breaker = { failureThreshold: 2, resetTimeout: 1000, probeTimeout: 5000 }

t.test('round robin skips unhealthy and open targets, and readmits them', async (t) => {
  const pool = new TargetPool({ service: 's', urls: ['http://a', 'http://b', 'http://c'], balance: 'round-robin', circuitBreaker: breaker, log })
  const picks = (n: number, now = 0) => Array.from({ length: n }, () => pool.pick(now)!.url)
  t.same(picks(6), ['http://a', 'http://b', 'http://c', 'http://a', 'http://b', 'http://c'])
  pool.targets[1].healthy = false
  t.same(picks(4), ['http://a', 'http://c', 'http://a', 'http://c'])
  pool.onFailure(pool.targets[0], 0)
  pool.onFailure(pool.targets[0], 0)
  t.same(picks(2, 10), ['http://c', 'http://c'], 'a is ejected by its open circuit')
  t.equal(pool.available(10), 1)
  pool.targets[2].healthy = false
  t.equal(pool.pick(10), null)
  t.same(pool.noTarget(10), { retryAfterMs: 990 })
  const probe = pool.pick(1000)
  t.equal(probe?.url, 'http://a', 'after resetTimeout a gets its probe')
  t.equal(pool.pick(1001), null, 'one probe at a time')
  pool.onResponse(probe!, 200, 1002)
  t.equal(pool.pick(1003)?.url, 'http://a')
  t.equal(pool.circuitState(), 'closed')
})

t.test('least-connections picks the target with the fewest requests in flight', async (t) => {
  const pool = new TargetPool({ service: 's', urls: ['http://a', 'http://b', 'http://c'], balance: 'least-connections', circuitBreaker: null, log })
  pool.targets[0].active = 3
  pool.targets[1].active = 1
  pool.targets[2].active = 2
  t.equal(pool.pick(0)?.url, 'http://b')
  pool.targets[1].active = 2
  const next = [pool.pick(0)!.url, pool.pick(0)!.url]
  t.same(next.sort(), ['http://b', 'http://c'], 'ties rotate')
})

t.test('a retry excludes the target that failed', async (t) => {
  const pool = new TargetPool({ service: 's', urls: ['http://a', 'http://b'], balance: 'round-robin', circuitBreaker: null, log })
  const first = pool.pick(0)!
  t.equal(pool.pick(0, first)?.url, 'http://b')
  t.equal(pool.pick(0, first)?.url, 'http://b')
})

t.test('registry targets merge with configured ones and keep their state across refreshes', async (t) => {
  const pool = new TargetPool({ service: 's', urls: ['http://a'], balance: 'round-robin', circuitBreaker: breaker, log })
  pool.setRegistered([{ url: 'http://r1', expiresAt: 1 }, { url: 'http://a', expiresAt: 1 }])
  t.same(pool.targets.map(x => `${x.source}:${x.url}`), ['config:http://a', 'registry:http://r1'])
  const r1 = pool.targets[1]
  r1.healthy = false
  pool.setRegistered([{ url: 'http://r1', expiresAt: 2 }, { url: 'http://r2', expiresAt: 2 }])
  t.equal(pool.targets[1], r1, 'same object: health and breaker state kept')
  t.equal(r1.expiresAt, 2)
  pool.setRegistered([])
  t.same(pool.targets.map(x => x.url), ['http://a'])
})
