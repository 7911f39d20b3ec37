import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { build, freePort, REDIS_URL, startUpstream, uniquePrefix, type TestContext, type Upstream, type UpstreamHandler } from '../helper.ts'

const ok: UpstreamHandler = (_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"ok":true}') }
const status = (code: number): UpstreamHandler => (_req, res) => { res.statusCode = code; res.end() }
/** Reads the request, then drops the connection without a response byte. */
const reset: UpstreamHandler = (_req, res) => { res.socket?.destroy() }

/** Polls until `condition` holds (no fixed sleeps): fails the test after `ms`. */
async function until (condition: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function service (urls: string[], extra: Record<string, unknown> = {}) {
  return {
    services: { svc: { urls, ...extra } },
    routes: [{ path: '/api/*', service: 'svc', upstreamPath: '/*' }]
  }
}

/** A real upstream process (see test/fixtures/upstream-process.mjs) that the test can kill -9 and restart. */
async function startProcess (t: TestContext, name: string, port = 0): Promise<{ port: number, child: ChildProcess, kill (): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/upstream-process.mjs', import.meta.url)), name, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  return { port: Number(line.toString().trim()), child, kill }
}

t.test('round robin spreads requests evenly over the targets', async (t) => {
  const ups = await Promise.all([startUpstream(t, ok), startUpstream(t, ok), startUpstream(t, ok)])
  const app = await build(t, { config: service(ups.map(u => u.url)) })
  for (let i = 0; i < 30; i++) {
    const res = await app.inject({ url: `/api/item/${i}` })
    t.equal(res.statusCode, 200)
  }
  t.same(ups.map(u => u.requests.length), [10, 10, 10])
  t.same(ups[1].requests.map(r => r.url).slice(0, 2), ['/item/1', '/item/4'], 'each request goes to the next target')
})

t.test('least-connections avoids the target with requests in flight', async (t) => {
  let release: () => void = () => {}
  const slow = await startUpstream(t, (_req, res) => { release = () => res.end('slow') })
  const fast = await startUpstream(t, ok)
  const app = await build(t, { config: service([slow.url, fast.url], { balance: 'least-connections' }) })
  const held = app.inject({ url: '/api/held' })
  await until(() => slow.requests.length === 1)
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ url: '/api/x' })).statusCode, 200)
  t.equal(fast.requests.length, 5, 'every request while one is in flight on the slow target goes to the other')
  release()
  t.equal((await held).body, 'slow')
})

t.test('the breaker opens after the threshold; the upstream sees nothing while open; a half-open probe closes it', async (t) => {
  const up = await startUpstream(t, status(503))
  const app = await build(t, { config: service([up.url], { circuitBreaker: { failureThreshold: 3, resetTimeout: 600 } }) })
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/api/a' })).statusCode, 503, 'upstream 503 passed through')
  t.equal(up.requests.length, 3)

  const started = performance.now()
  for (let i = 0; i < 10; i++) {
    const res = await app.inject({ url: '/api/a' })
    t.equal(res.statusCode, 503)
    t.equal(res.headers['retry-after'], '1')
    t.equal(res.headers['x-service'], 'svc')
    t.equal(res.json().message, 'svc service unavailable')
  }
  t.ok(performance.now() - started < 600, 'fast fails answer at once')
  t.equal(up.requests.length, 3, 'no request reached the upstream while the circuit was open')
  t.same(app.upstreams.snapshot()[0].targets[0].circuit, 'open')

  // Half-open: one probe at a time. Hold the probe to show a second request is refused meanwhile.
  let releaseProbe: () => void = () => {}
  up.handle((_req, res) => { releaseProbe = () => res.end('{"probe":true}') })
  await until(() => app.upstreams.pool('svc').targets[0].breaker.canPass(performance.now()))
  const probe = app.inject({ url: '/api/probe' })
  await until(() => up.requests.length === 4)
  const meanwhile = await app.inject({ url: '/api/b' })
  t.equal(meanwhile.statusCode, 503, 'a second request during the probe fails fast')
  t.equal(app.upstreams.snapshot()[0].targets[0].circuit, 'half-open')
  releaseProbe()
  t.equal((await probe).statusCode, 200, 'the probe went through')
  t.equal(app.upstreams.snapshot()[0].targets[0].circuit, 'closed')
  up.handle(ok)
  t.equal((await app.inject({ url: '/api/c' })).statusCode, 200)
  t.equal(up.requests.length, 5, 'three failures, the probe, and this one')
})

t.test('a failed half-open probe reopens the circuit', async (t) => {
  const up = await startUpstream(t, status(502))
  const app = await build(t, { config: service([up.url], { circuitBreaker: { failureThreshold: 1, resetTimeout: 100 } }) })
  t.equal((await app.inject({ url: '/api/a' })).statusCode, 502)
  t.equal((await app.inject({ url: '/api/a' })).headers['retry-after'], '1')
  await until(() => app.upstreams.pool('svc').targets[0].breaker.canPass(performance.now()))
  t.equal((await app.inject({ url: '/api/a' })).statusCode, 502, 'the probe reached the still-broken upstream')
  t.equal(up.requests.length, 2)
  t.equal(app.upstreams.snapshot()[0].targets[0].circuit, 'open')
  t.equal((await app.inject({ url: '/api/a' })).statusCode, 503)
  t.equal(up.requests.length, 2)
})

t.test('a flapping upstream never opens the circuit: failures must be consecutive', async (t) => {
  let n = 0
  const up = await startUpstream(t, (req, res, body) => (n++ % 2 === 0 ? status(503) : ok)(req, res, body))
  const app = await build(t, { config: service([up.url], { circuitBreaker: { failureThreshold: 2, resetTimeout: '1m' } }) })
  for (let i = 0; i < 10; i++) await app.inject({ url: '/api/x' })
  t.equal(up.requests.length, 10)
  t.equal(app.upstreams.snapshot()[0].circuit, 'closed')
})

t.test('a GET is retried on another target after a connection failure; a POST never is', async (t) => {
  const broken = await startUpstream(t, reset)
  const good = await startUpstream(t, ok)
  const app = await build(t, { config: service([broken.url, good.url], { retries: 1, circuitBreaker: false }) })

  const get = await app.inject({ url: '/api/things' })
  t.equal(get.statusCode, 200, 'the client never saw the failure')
  t.equal(broken.requests.length, 1, 'first attempt reached the broken target')
  t.equal(good.requests.length, 1, 'the retry went to the other target')

  const post = await app.inject({ method: 'POST', url: '/api/things', payload: '{"a":1}', headers: { 'content-type': 'application/json' } })
  t.equal(broken.requests.length, 2, 'the POST went to the broken target (round robin)')
  t.equal(post.statusCode, 502)
  t.equal(post.json().message, 'svc service sent an invalid response')
  t.equal(good.requests.length, 1, 'and was not retried')

  const refused = await freePort()
  const app2 = await build(t, { config: service([`http://127.0.0.1:${refused}`, good.url], { retries: 2, circuitBreaker: false }) })
  const del = await app2.inject({ method: 'DELETE', url: '/api/things/1' })
  t.equal(del.statusCode, 200, 'a refused connection is retried for DELETE too')
  t.equal(good.requests.at(-1)?.method, 'DELETE')
})

t.test('a PUT with a buffered body is retried with the same bytes; a streamed body is not replayed', async (t) => {
  const broken = await startUpstream(t, reset)
  const good = await startUpstream(t, ok)
  const config = {
    services: { svc: { urls: [broken.url, good.url], retries: 1, circuitBreaker: false } },
    routes: [
      { path: '/api/parsed/:id', methods: ['PUT'], service: 'svc', upstreamPath: '/parsed/:id', schema: { body: { type: 'object' } } },
      { path: '/api/raw/:id', methods: ['PUT'], service: 'svc', upstreamPath: '/raw/:id' }
    ]
  }
  const { app, url } = await (await import('../helper.ts')).listen(t, { config })
  const payload = '{"name": "x",  "n": 1}'
  const res = await fetch(`${url}/api/parsed/1`, { method: 'PUT', body: payload, headers: { 'content-type': 'application/json' } })
  t.equal(res.status, 200)
  t.equal(good.requests.length, 1)
  t.equal(good.requests[0].body.toString(), payload, 'the retry carried the body byte for byte')
  t.equal(broken.requests[0].body.toString(), payload)

  const streamed = await fetch(`${url}/api/raw/1`, { method: 'PUT', body: payload, headers: { 'content-type': 'application/json' } })
  t.equal(streamed.status, 502, 'a streamed body cannot be sent twice: no retry')
  t.equal(good.requests.length, 1)
  t.equal(app.upstreams.pool('svc').targets.every(x => x.active === 0), true)
})

t.test('a single target is retried itself; timeouts are not retried', async (t) => {
  let calls = 0
  const up = await startUpstream(t, (req, res, body) => (calls++ === 0 ? reset : ok)(req, res, body))
  const app = await build(t, { config: service([up.url], { retries: 1 }) })
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200)
  t.equal(up.requests.length, 2)

  // Never answers.
  const slow = await startUpstream(t, () => {})
  const app2 = await build(t, { config: { services: { svc: { urls: [slow.url], retries: 2, timeout: 50 } }, routes: [{ path: '/api/*', service: 'svc', upstreamPath: '/*' }] } })
  const res = await app2.inject({ url: '/api/x' })
  t.equal(res.statusCode, 504)
  t.equal(res.json().message, 'svc service timed out')
  t.equal(slow.requests.length, 1, 'a timed-out request is not sent again')
})

t.test('the retry budget keeps retries near 20% of traffic when everything fails', async (t) => {
  const broken = await startUpstream(t, reset)
  const app = await build(t, { config: service([broken.url], { retries: 3, circuitBreaker: false }) })
  const requests = 60
  for (let i = 0; i < requests; i++) t.equal((await app.inject({ url: '/api/x' })).statusCode, 502)
  const retries = broken.requests.length - requests
  t.ok(retries > 0, `some retries were made (${retries})`)
  t.ok(retries <= Math.max(10, requests * 0.2), `retries stay within the budget: ${retries} of ${requests} (without it: ${requests * 3})`)
})

t.test('a killed upstream process is ejected, skipped, and readmitted after it restarts', async (t) => {
  const a = await startProcess(t, 'a')
  const b = await startProcess(t, 'b')
  const app = await build(t, { config: service([`http://127.0.0.1:${a.port}`, `http://127.0.0.1:${b.port}`], { retries: 1, circuitBreaker: { failureThreshold: 2, resetTimeout: 200 } }) })
  const names = async (n: number) => {
    const out: string[] = []
    for (let i = 0; i < n; i++) {
      const res = await app.inject({ url: '/api/who' })
      t.equal(res.statusCode, 200)
      out.push(res.json().name)
    }
    return out
  }
  t.same(await names(4), ['a', 'b', 'a', 'b'])
  await a.kill()
  t.same(await names(6), ['b', 'b', 'b', 'b', 'b', 'b'], 'retries hide the failures; a is ejected after two')
  t.equal(app.upstreams.snapshot()[0].targets[0].circuit, 'open')
  const a2 = await startProcess(t, 'a', a.port)
  t.equal(a2.port, a.port)
  await until(() => app.upstreams.pool('svc').targets[0].breaker.canPass(performance.now()))
  const after = await names(4)
  t.ok(after.includes('a'), `a is readmitted after its probe: ${after.join(',')}`)
  t.equal(app.upstreams.snapshot()[0].targets[0].circuit, 'closed')
})

t.test('active health checks take an unhealthy target out and bring it back', async (t) => {
  let healthy = true
  const handler: UpstreamHandler = (req, res, body) => {
    if (req.url === '/health') return status(healthy ? 200 : 500)(req, res, body)
    ok(req, res, body)
  }
  const a = await startUpstream(t, handler)
  const b = await startUpstream(t, ok)
  const app = await build(t, {
    config: service([a.url, b.url], { health: { path: '/health', interval: 100, timeout: 90, healthyThreshold: 2, unhealthyThreshold: 2 } })
  })
  const target = app.upstreams.pool('svc').targets[0]
  const proxied = (u: Upstream) => u.requests.filter(r => r.url !== '/health').length
  await until(() => a.requests.some(r => r.url === '/health'))
  healthy = false
  await until(() => !target.healthy)
  const before = proxied(a)
  for (let i = 0; i < 6; i++) t.equal((await app.inject({ url: '/api/x' })).statusCode, 200)
  t.equal(proxied(a), before, 'the unhealthy target got no proxied request')
  t.equal(proxied(b), 6)
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200, 'still ready: one target can serve')
  t.match(ready.json().checks['service:svc'].detail.targets, [{ url: a.url, healthy: false, lastProbeError: '/health answered 500' }, { url: b.url, healthy: true }])
  healthy = true
  await until(() => target.healthy)
  for (let i = 0; i < 4; i++) await app.inject({ url: '/api/x' })
  t.equal(proxied(a), before + 2, 'readmitted once probes pass again')
  t.equal(a.requests.find(r => r.url === '/health')?.headers['user-agent'], 'portico-health-check')
})

t.test('all targets down: 503 unavailable, then fast 503s with Retry-After once circuits open', async (t) => {
  const ports = [await freePort(), await freePort()]
  const app = await build(t, { config: service(ports.map(p => `http://127.0.0.1:${p}`), { circuitBreaker: { failureThreshold: 1, resetTimeout: '30s' } }) })
  const first = await app.inject({ url: '/api/x' })
  t.equal(first.statusCode, 503)
  t.equal(first.json().message, 'svc service unavailable')
  t.notOk(first.headers['retry-after'], 'a refused connection is not an open circuit')
  await app.inject({ url: '/api/x' })
  const fast = await app.inject({ url: '/api/x' })
  t.equal(fast.statusCode, 503)
  t.equal(fast.json().message, 'svc service unavailable')
  t.ok(Number(fast.headers['retry-after']) >= 29 && Number(fast.headers['retry-after']) <= 30)
  const health = await app.inject({ url: '/health' })
  t.equal(health.statusCode, 200, 'liveness is not about upstreams')
  t.same(health.json().services, { svc: { status: 'down', targets: 2, available: 0, circuit: 'open' } })
  t.same(app.upstreams.serviceCircuits(), { svc: 'open' }, 'the word /metrics JSON shows')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 503)
  t.match(ready.json().checks['service:svc'], { status: 'down', error: /none of 2 targets can take requests: .* circuit open; .* circuit open/, detail: { targets: [{ circuit: 'open' }, { circuit: 'open' }] } })
})

t.test('all targets unhealthy by active checks: 503 without Retry-After', async (t) => {
  const up = await startUpstream(t, status(500))
  const app = await build(t, { config: service([up.url], { health: { path: '/health', interval: 10, unhealthyThreshold: 1 } }) })
  await until(() => !app.upstreams.pool('svc').targets[0].healthy)
  const res = await app.inject({ url: '/api/x' })
  t.equal(res.statusCode, 503)
  t.equal(res.json().message, 'svc service unavailable')
  t.notOk(res.headers['retry-after'])
  t.equal(up.requests.filter(r => r.url !== '/health').length, 0)
})

t.test('timeouts count against the breaker and answer 504', async (t) => {
  const slow = await startUpstream(t, () => {})
  const app = await build(t, { config: { services: { svc: { urls: [slow.url], timeout: 30, circuitBreaker: { failureThreshold: 2, resetTimeout: '1m' } } }, routes: [{ path: '/api/*', service: 'svc', upstreamPath: '/*' }] } })
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 504)
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 504)
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503, 'open after two timeouts')
  t.equal(slow.requests.length, 2)
})

t.test('a client that gives up does not count against the target and frees the half-open probe', async (t) => {
  const { listen } = await import('../helper.ts')
  let held: ServerResponse | undefined
  let calls = 0
  const up = await startUpstream(t, (req, res, body) => {
    calls++
    if (calls === 1) status(503)(req, res, body)
    else if (calls === 2) held = res
    else ok(req, res, body)
  })
  const { app, url } = await listen(t, { config: service([up.url], { circuitBreaker: { failureThreshold: 1, resetTimeout: 100 } }) })
  const target = app.upstreams.pool('svc').targets[0]
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503)
  t.equal(target.breaker.state, 'open')
  await until(() => target.breaker.canPass(performance.now()))

  const controller = new AbortController()
  const pending = fetch(`${url}/api/probe`, { signal: controller.signal }).catch(() => 'aborted')
  await until(() => up.requests.length === 2)
  t.equal(target.breaker.state, 'half-open', 'this request is the probe')
  t.equal(target.active, 1)
  t.notOk(target.breaker.canPass(performance.now()), 'one probe at a time')
  controller.abort()
  t.equal(await pending, 'aborted')
  await until(() => target.active === 0)
  t.equal(target.breaker.state, 'half-open', 'no verdict against the target')
  t.ok(target.breaker.canPass(performance.now()), 'the probe slot is free again')

  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200, 'the next request probes and succeeds')
  t.equal(target.breaker.state, 'closed')
  // The upstream answers the abandoned request late: nothing is counted twice.
  held!.end('late')
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200)
  t.equal(target.active, 0)
  t.equal(target.breaker.state, 'closed')
})

async function admin (t: TestContext, config: object, env: Record<string, string> = {}): Promise<FastifyInstance> {
  return await build(t, { config, env: { ADMIN_TOKEN: 'secret', REGISTRY_REFRESH_INTERVAL: '20ms', ...env } })
}
const auth = { authorization: 'Bearer secret' }

t.test('registry: a heartbeat joins a target, GET /admin/services shows it, expiry removes it', async (t) => {
  const up = await startUpstream(t, ok)
  const app = await admin(t, service([]))
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503, 'no targets yet')
  const put = await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: up.url + '/', ttl: '150ms' } })
  t.equal(put.statusCode, 200)
  t.match(put.json(), { service: 'svc', url: up.url, ttl: 150, registered: true })
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200, 'routed to at once')
  const list = await app.inject({ url: '/admin/services', headers: auth })
  t.match(list.json(), { services: [{ name: 'svc', balance: 'round-robin', circuit: 'closed', targets: [{ url: up.url, source: 'registry', healthy: true, circuit: 'closed' }] }] })
  t.ok(list.json().services[0].targets[0].expiresAt)
  await until(() => app.upstreams.pool('svc').targets.length === 0)
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503, 'gone once heartbeats stop')
})

t.test('registry shared through Redis: a second instance routes to a target registered on the first', { skip: REDIS_URL ? false : 'needs REDIS_URL (redis://127.0.0.1:6379)' }, async (t) => {
  const up = await startUpstream(t, ok)
  const env = { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: uniquePrefix('registry') }
  const first = await admin(t, service([]), env)
  const second = await admin(t, service([]), env)
  t.equal((await second.inject({ url: '/api/x' })).statusCode, 503, 'nothing registered yet')
  const put = await first.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: up.url, ttl: 300 } })
  t.equal(put.statusCode, 200)
  await until(() => second.upstreams.pool('svc').targets.length === 1)
  const res = await second.inject({ url: '/api/from-second' })
  t.equal(res.statusCode, 200, 'the second instance routes to the target registered on the first')
  t.equal(up.requests.at(-1)?.url, '/from-second')
  const listed = await second.inject({ url: '/admin/services', headers: auth })
  t.equal(listed.json().services[0].targets[0].source, 'registry')
  // Heartbeats stop: both instances drop it once the TTL runs out.
  await until(() => second.upstreams.pool('svc').targets.length === 0 && first.upstreams.pool('svc').targets.length === 0)
  t.equal((await second.inject({ url: '/api/x' })).statusCode, 503)
  t.equal((await first.inject({ url: '/api/x' })).statusCode, 503)
  await first.redis.del(`${env.REDIS_KEY_PREFIX}:registry:svc`)
})

t.test('registry admin API: validation, unknown service, token, removal', async (t) => {
  const up = await startUpstream(t, ok)
  const app = await admin(t, service([up.url]))
  t.equal((await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', payload: { url: up.url } })).statusCode, 401)
  const unknown = await app.inject({ method: 'PUT', url: '/admin/services/nope/targets', headers: auth, payload: { url: up.url } })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().message, 'unknown service nope')
  const bad = await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: 'ftp://x', ttl: '1s' } })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().message, /url/)
  const badTtl = await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: 'http://127.0.0.1:1', ttl: 'soon' } })
  t.equal(badTtl.statusCode, 400)
  const same = await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: up.url } })
  t.equal(same.json().registered, false, 'a configured target is not added twice')
  t.equal(app.upstreams.pool('svc').targets.length, 1)
  await app.inject({ method: 'PUT', url: '/admin/services/svc/targets', headers: auth, payload: { url: 'http://127.0.0.1:1' } })
  t.equal(app.upstreams.pool('svc').targets.length, 2)
  const del = await app.inject({ method: 'DELETE', url: `/admin/services/svc/targets?url=${encodeURIComponent('http://127.0.0.1:1')}`, headers: auth })
  t.same(del.json(), { removed: true })
  t.equal(app.upstreams.pool('svc').targets.length, 1)
})

t.test('app.close() finishes with health checks and registry refresh running', async (t) => {
  const up = await startUpstream(t, ok)
  const { buildApp } = await import('../../app.ts')
  const { testEnv, testConfig } = await import('../helper.ts')
  const app = await buildApp({ env: testEnv({ REGISTRY_REFRESH_INTERVAL: '5ms' }), config: testConfig(service([up.url], { health: { path: '/health', interval: 5 } })) })
  await app.ready()
  await until(() => up.requests.length > 2)
  await app.close()
  const seen = up.requests.length
  await new Promise(resolve => setTimeout(resolve, 30))
  t.equal(up.requests.length, seen, 'no probe after close')
})

t.test('metrics and logs: upstream timings, errors by kind, circuit states, state changes logged', async (t) => {
  const { buildApp } = await import('../../app.ts')
  const { testEnv, testConfig } = await import('../helper.ts')
  const { Writable } = await import('node:stream')
  const up = await startUpstream(t, ok)
  const dead = `http://127.0.0.1:${await freePort()}`
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({ write (chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb() } })
  const app = await buildApp({ env: testEnv(), config: testConfig(service([up.url, dead], { circuitBreaker: { failureThreshold: 1, resetTimeout: '1m' } })), logger: { level: 'info', stream } })
  t.teardown(() => app.close())
  const seen = { requests: [] as Array<[string, string, number]>, errors: [] as string[], circuits: undefined as undefined | (() => unknown) }
  app.metrics = {
    ...app.metrics,
    upstreamRequest: (service, target, seconds) => { seen.requests.push([service, target, seconds]) },
    upstreamError: (service, kind) => { seen.errors.push(`${service}:${kind}`) },
    observeCircuits: (collect) => { seen.circuits = collect }
  }
  await app.ready()
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503, 'the dead target: refused')
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 200, 'the dead target is ejected')
  t.equal(seen.requests.length, 2)
  t.equal(seen.requests[0][0], 'svc')
  t.equal(seen.requests[0][1], up.url)
  t.ok(seen.requests[0][2] > 0 && seen.requests[0][2] < 5, 'seconds to headers')
  t.same(seen.errors, ['svc:unavailable'])
  t.same(seen.circuits?.(), [{ service: 'svc', target: up.url, state: 'closed' }, { service: 'svc', target: dead, state: 'open' }])
  const opened = lines.find(l => l.msg === `circuit of svc target ${dead} opened`)
  t.match(opened, { level: 40, service: 'svc', target: dead, from: 'closed', to: 'open', consecutiveFailures: 1 })

  // Every target open: the fast fail is counted as circuit-open.
  app.upstreams.pool('svc').onFailure(app.upstreams.pool('svc').targets[0], performance.now())
  t.equal((await app.inject({ url: '/api/x' })).statusCode, 503)
  t.equal(seen.errors.at(-1), 'svc:circuit-open')
})
