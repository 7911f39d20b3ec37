import t from 'tap'
import { backoffDelay, isConnectionFailure, RetryBudget } from '../../../services/upstream/retry-policy.ts'

t.test('backoff grows exponentially up to the cap, with full jitter', async (t) => {
  t.equal(backoffDelay(1, 25, 250, () => 1), 25)
  t.equal(backoffDelay(2, 25, 250, () => 1), 50)
  t.equal(backoffDelay(3, 25, 250, () => 1), 100)
  t.equal(backoffDelay(5, 25, 250, () => 1), 250, 'capped')
  t.equal(backoffDelay(3, 25, 250, () => 0), 0, 'jitter reaches zero')
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2)
    t.ok(d >= 0 && d <= 50)
  }
})

t.test('retry budget keeps retries within max(minRetries, ratio × requests) per window', async (t) => {
  const budget = new RetryBudget({ ratio: 0.2, minRetries: 2, windowSeconds: 10 })
  const now = 100_000
  let allowed = 0
  for (let i = 0; i < 100; i++) {
    budget.onRequest(now)
    if (budget.tryRetry(now)) allowed++
  }
  t.equal(allowed, 20, '20% of 100 requests')
  t.same(budget.totals(), { requests: 100, retries: 20 })

  const quiet = new RetryBudget({ ratio: 0.2, minRetries: 2, windowSeconds: 10 })
  quiet.onRequest(now)
  t.ok(quiet.tryRetry(now))
  t.ok(quiet.tryRetry(now))
  t.notOk(quiet.tryRetry(now), 'minRetries is the floor, not unlimited')
  t.ok(quiet.tryRetry(now + 11_000), 'the window slides: old retries are forgotten')
})

t.test('connection failures are told apart from timeouts and bad responses', async (t) => {
  const wrap = (code: string) => Object.assign(new Error('x'), { code: 'FST_REPLY_FROM_INTERNAL_SERVER_ERROR', cause: Object.assign(new Error(code), { code }) })
  t.ok(isConnectionFailure(wrap('ECONNREFUSED')))
  t.ok(isConnectionFailure(wrap('UND_ERR_SOCKET')))
  t.notOk(isConnectionFailure(wrap('UND_ERR_HEADERS_TIMEOUT')))
  t.notOk(isConnectionFailure(wrap('HPE_INVALID_CONSTANT')))
})
