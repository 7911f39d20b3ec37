import t from 'tap'
import { CircuitBreaker } from '../../../services/upstream/circuit-breaker.ts'

const options = { failureThreshold: 3, resetTimeout: 1000, probeTimeout: 5000 }

t.test('opens after failureThreshold consecutive failures, not before', async (t) => {
  const changes: string[] = []
  const b = new CircuitBreaker(options, (from, to) => changes.push(`${from}->${to}`))
  b.onFailure(0); b.onFailure(1)
  b.onSuccess() // a success in between resets the count
  b.onFailure(2); b.onFailure(3)
  t.equal(b.state, 'closed')
  b.onFailure(4)
  t.equal(b.state, 'open')
  t.same(changes, ['closed->open'])
  t.notOk(b.canPass(500), 'refuses while open')
  t.equal(b.retryIn(500), 504, 'says how long is left')
})

t.test('half-open lets one probe at a time; success closes', async (t) => {
  const b = new CircuitBreaker(options)
  for (let i = 0; i < 3; i++) b.onFailure(0)
  t.ok(b.canPass(1000), 'reset timeout passed: a probe may go')
  b.onPass(1000)
  t.equal(b.state, 'half-open')
  t.notOk(b.canPass(1001), 'a second request waits for the probe')
  b.onSuccess()
  t.equal(b.state, 'closed')
  t.ok(b.canPass(1002))
  t.equal(b.failures, 0)
})

t.test('a failed probe reopens for another resetTimeout', async (t) => {
  const b = new CircuitBreaker(options)
  for (let i = 0; i < 3; i++) b.onFailure(0)
  b.onPass(1500)
  b.onFailure(1600)
  t.equal(b.state, 'open')
  t.notOk(b.canPass(2500))
  t.ok(b.canPass(2600))
})

t.test('an abandoned or stale probe frees the slot', async (t) => {
  const b = new CircuitBreaker(options)
  for (let i = 0; i < 3; i++) b.onFailure(0)
  b.onPass(1000)
  b.onAbandon()
  t.ok(b.canPass(1001), 'abandoned probe: another may go')
  b.onPass(1001)
  t.notOk(b.canPass(5000))
  t.ok(b.canPass(6001), 'probe unanswered past probeTimeout: another may go')
})
