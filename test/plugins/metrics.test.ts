import t from 'tap'
import { build, startUpstream } from '../helper.ts'
import { buildApp } from '../../app.ts'
import { testConfig, testEnv } from '../helper.ts'

/** Every sample line of one metric, as `{labels} value` strings keyed by their label text. */
function samples (text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue
    const space = line.lastIndexOf(' ')
    out.set(line.slice(name.length, space), Number(line.slice(space + 1)))
  }
  return out
}

function config (upstreamUrl: string) {
  return {
    services: { users: { url: upstreamUrl }, orders: { url: upstreamUrl } },
    routes: [
      { path: '/api/users/:id', methods: ['GET', 'POST'], service: 'users', upstreamPath: '/users/:id' },
      { path: '/api/orders', methods: ['GET'], service: 'orders', upstreamPath: '/orders' }
    ]
  }
}

async function scrape (app: Awaited<ReturnType<typeof build>>): Promise<string> {
  const res = await app.inject({ url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return res.body
}

t.test('counts proxied requests by method, route pattern, status and service', async (t) => {
  const upstream = await startUpstream(t, (req, res) => {
    res.statusCode = req.url === '/users/404' ? 404 : 200
    res.setHeader('content-type', 'application/json')
    res.end('{}')
  })
  const app = await build(t, { config: config(upstream.url) })
  for (const id of ['1', '2', '3']) t.equal((await app.inject({ url: `/api/users/${id}` })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/users/404' })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: '/api/users/1', payload: { a: 1 } })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/orders' })).statusCode, 200)
  t.equal((await app.inject({ url: '/no/such/route' })).statusCode, 404)
  t.equal((await app.inject({ url: '/health' })).statusCode, 200)

  const res = await app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const text = res.body

  const requests = samples(text, 'portico_http_requests_total')
  t.equal(requests.get('{method="GET",route="/api/users/:id",status_code="200",service="users"}'), 3)
  t.equal(requests.get('{method="GET",route="/api/users/:id",status_code="404",service="users"}'), 1)
  t.equal(requests.get('{method="POST",route="/api/users/:id",status_code="200",service="users"}'), 1)
  t.equal(requests.get('{method="GET",route="/api/orders",status_code="200",service="orders"}'), 1)
  t.equal(requests.get('{method="GET",route="unmatched",status_code="404",service=""}'), 1)
  t.equal(requests.get('{method="GET",route="/health",status_code="200",service=""}'), 1)
  t.equal(requests.size, 6, 'no other series: ' + [...requests.keys()].join(' '))

  const counts = samples(text, 'portico_http_request_duration_seconds_count')
  t.equal(counts.get('{method="GET",route="/api/users/:id",service="users"}'), 4)
  t.equal(counts.get('{method="POST",route="/api/users/:id",service="users"}'), 1)
  const inf = samples(text, 'portico_http_request_duration_seconds_bucket')
  t.equal(inf.get('{method="GET",route="/api/users/:id",service="users",le="+Inf"}'), 4)
  const sums = samples(text, 'portico_http_request_duration_seconds_sum')
  const sum = sums.get('{method="GET",route="/api/users/:id",service="users"}')!
  t.ok(sum > 0 && sum < 10, `duration sum is in seconds (${sum})`)
  // Routes are known at start-up: their series exist before any traffic.
  t.equal(counts.get('{method="HEAD",route="/api/orders",service="orders"}'), 0, 'exposed HEAD route pre-created')

  t.match(text, /# TYPE portico_http_requests_total counter/)
  t.match(text, /# TYPE portico_http_request_duration_seconds histogram/)
  t.match(text, /\nprocess_cpu_user_seconds_total \d/, 'process defaults')
  t.match(text, /\nnodejs_heap_size_total_bytes \d/)
  t.match(text, /\nnodejs_eventloop_lag_seconds \d/)
})

t.test('buckets are cumulative and end at +Inf = count', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  for (let i = 0; i < 5; i++) await app.inject({ url: '/api/orders' })
  const text = await scrape(app)
  const buckets = [...samples(text, 'portico_http_request_duration_seconds_bucket')]
    .filter(([labels]) => labels.includes('route="/api/orders"') && labels.includes('method="GET"'))
    .map(([, v]) => v)
  t.equal(buckets.length, 14, '13 bounds and +Inf')
  for (let i = 1; i < buckets.length; i++) t.ok(buckets[i] >= buckets[i - 1], `bucket ${i} cumulative`)
  t.equal(buckets.at(-1), 5)
})

t.test('no raw-URL labels after 1000 distinct ids and 1000 unmatched paths', async (t) => {
  const upstream = await startUpstream(t, (_req, res) => res.end('{}'))
  // 1000 requests from one client: above the default anonymous rate limit
  const app = await build(t, { config: config(upstream.url), env: { RATE_LIMIT_TIERS: 'anonymous:1000000' } })
  const ids: string[] = []
  for (let i = 0; i < 1000; i++) {
    const id = `user-${i}-x`
    ids.push(id)
    await app.inject({ url: `/api/users/${id}?q=${i}` })
    await app.inject({ url: `/random/${id}/x` })
  }
  const text = await scrape(app)
  for (const id of ids) {
    if (text.includes(id)) {
      t.fail(`id ${id} appears in the exposition`)
      return
    }
  }
  const requests = samples(text, 'portico_http_requests_total')
  t.same([...requests.keys()].sort(), [
    '{method="GET",route="/api/users/:id",status_code="200",service="users"}',
    '{method="GET",route="unmatched",status_code="404",service=""}'
  ])
  t.equal(requests.get('{method="GET",route="/api/users/:id",status_code="200",service="users"}'), 1000)
  t.equal(requests.get('{method="GET",route="unmatched",status_code="404",service=""}'), 1000)
  // Every route label in the whole exposition is a pattern the gateway declared.
  const routes = new Set([...text.matchAll(/route="([^"]*)"/g)].map(m => m[1]))
  t.ok(routes.size < 20, `bounded route labels (${routes.size})`)
  for (const route of routes) t.ok(route === 'unmatched' || !route.includes('user-'), `route label ${route} is a pattern`)
})

t.test('what other concerns report through app.metrics reaches the exposition', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  const m = app.metrics
  m.cacheResult('hit'); m.cacheResult('hit'); m.cacheResult('miss'); m.cacheResult('bypass')
  m.rateLimited('/api/users/:id'); m.rateLimited('/api/users/:id'); m.rateLimited('/api/orders')
  m.upstreamRequest('users', 'http://127.0.0.1:8001', 0.02)
  m.upstreamRequest('users', 'http://127.0.0.1:8001', 0.2)
  m.upstreamRequest('users', 'http://127.0.0.1:8002', 20)
  m.upstreamError('users', 'timeout'); m.upstreamError('users', 'timeout'); m.upstreamError('orders', 'circuit-open')
  m.trackingRows('written', 40); m.trackingRows('written', 2); m.trackingRows('dropped', 3)
  m.storeError('redis'); m.storeError('redis')
  m.observeCircuits(() => [
    { service: 'users', target: 'http://127.0.0.1:8001', state: 'closed' },
    { service: 'users', target: 'http://127.0.0.1:8002', state: 'open' },
    { service: 'orders', target: 'http://127.0.0.1:8003', state: 'half-open' }
  ])
  m.observeTracking(() => ({ queued: 7, written: 42, dropped: 3, queuedBytes: 14_336 }))
  m.observeCacheEntries(async () => 11)

  const text = await scrape(app)
  t.same(Object.fromEntries(samples(text, 'portico_cache_requests_total')), { '{result="hit"}': 2, '{result="miss"}': 1, '{result="bypass"}': 1 })
  t.same(Object.fromEntries(samples(text, 'portico_rate_limited_total')), { '{route="/api/users/:id"}': 2, '{route="/api/orders"}': 1 })
  t.equal(samples(text, 'portico_upstream_request_duration_seconds_count').get('{service="users",target="http://127.0.0.1:8001"}'), 2)
  t.equal(samples(text, 'portico_upstream_request_duration_seconds_sum').get('{service="users",target="http://127.0.0.1:8001"}'), 0.22)
  const buckets = samples(text, 'portico_upstream_request_duration_seconds_bucket')
  t.equal(buckets.get('{service="users",target="http://127.0.0.1:8001",le="0.025"}'), 1)
  t.equal(buckets.get('{service="users",target="http://127.0.0.1:8002",le="10"}'), 0, '20 s is above every bound')
  t.equal(buckets.get('{service="users",target="http://127.0.0.1:8002",le="+Inf"}'), 1)
  t.same(Object.fromEntries(samples(text, 'portico_upstream_errors_total')), { '{service="users",kind="timeout"}': 2, '{service="orders",kind="circuit-open"}': 1 })
  t.equal(samples(text, 'portico_tracking_queue_depth').get(''), 7)
  t.equal(samples(text, 'portico_tracking_queue_bytes').get(''), 14_336)
  t.same(Object.fromEntries(samples(text, 'portico_tracking_rows_total')), { '{outcome="written"}': 42, '{outcome="dropped"}': 3, '{outcome="failed"}': 0 })
  t.same(Object.fromEntries(samples(text, 'portico_store_errors_total')), { '{store="redis"}': 2 })
  // t.match: the real upstream pools (issue 7) report their own targets beside these.
  t.match(Object.fromEntries(samples(text, 'portico_circuit_state')), {
    '{service="users",target="http://127.0.0.1:8001"}': 0,
    '{service="users",target="http://127.0.0.1:8002"}': 2,
    '{service="orders",target="http://127.0.0.1:8003"}': 1
  })
  t.equal(samples(text, 'portico_tracking_queue_depth').get(''), 7)
  t.equal(samples(text, 'portico_cache_entries').get(''), 11)
})

t.test('JSON view: contract §5 totals', async (t) => {
  const upstream = await startUpstream(t, (req, res) => {
    res.statusCode = req.url === '/users/500' ? 503 : 200
    res.end('{}')
  })
  const app = await build(t, { config: config(upstream.url) })
  for (let i = 0; i < 4; i++) await app.inject({ url: '/api/users/1' })
  await app.inject({ url: '/api/users/500' })
  await app.inject({ url: '/nowhere' })
  app.metrics.cacheResult('hit'); app.metrics.cacheResult('hit'); app.metrics.cacheResult('hit'); app.metrics.cacheResult('miss')
  app.metrics.rateLimited('/api/users/:id')
  app.metrics.observeCircuits(() => [
    { service: 'users', target: 'a', state: 'half-open' },
    { service: 'users', target: 'b', state: 'closed' }
  ])
  app.metrics.observeTracking(() => ({ queued: 2, written: 10, dropped: 1 }))
  app.metrics.observeCacheEntries(() => 5)
  app.metrics.observeCacheEntries(async () => 4)

  const res = await app.inject({ url: '/metrics', headers: { accept: 'application/json' } })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json()
  t.same(body.requests, { total: 6, successful: 4, failed: 2, cached: 3, rateLimited: 1 })
  t.same(body.circuitBreakers, { users: 'half-open', orders: 'closed' }, 'worst state per service; configured services default to closed')
  t.same(body.cache, { entries: 9, hits: 3, misses: 1 })
  t.same(body.tracking, { queued: 2, written: 10, dropped: 1 })
  t.type(body.uptimeSeconds, 'number')
  t.same(Object.keys(body).sort(), ['cache', 'circuitBreakers', 'requests', 'tracking', 'uptimeSeconds'])

  // The JSON scrape itself was counted once it had been answered.
  const again = (await app.inject({ url: '/metrics', headers: { accept: 'application/json' } })).json()
  t.equal(again.requests.total, 7)
})

t.test('JSON view without reporters, and with a failing cache counter', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  app.metrics.trackingRows('written', 3)
  let body = (await app.inject({ url: '/metrics', headers: { accept: 'application/json' } })).json()
  t.same(body.tracking, { queued: 0, written: 3, dropped: 0 }, 'falls back to the row counters')
  t.same(body.cache, { entries: 0, hits: 0, misses: 0 })

  app.metrics.observeCacheEntries(async () => { throw new Error('redis down') })
  body = (await app.inject({ url: '/metrics', headers: { accept: 'application/json' } })).json()
  t.equal(body.cache.entries, null, 'unknown, not zero')
  const text = await scrape(app)
  t.match(text, /portico_cache_requests_total/, 'the text exposition still answers')
})

t.test('a browser-like or Prometheus Accept header gets the text format', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  const prom = await app.inject({ url: '/metrics', headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' } })
  t.match(prom.headers['content-type'], /^text\/plain/)
  const html = await app.inject({ url: '/metrics', headers: { accept: 'text/html,*/*' } })
  t.match(html.headers['content-type'], /^text\/plain/)
})

t.test('/metrics is in the OpenAPI document under Gateway', async (t) => {
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  const doc = (await app.inject({ url: '/docs/json' })).json()
  t.same(doc.paths['/metrics'].get.tags, ['Gateway'])
  t.ok(doc.paths['/metrics'].get.responses['200'].content['application/json'])
})

t.test('two apps in one process keep separate series; app.close() finishes', async (t) => {
  const upstream = await startUpstream(t)
  const a = await buildApp({ env: testEnv(), config: testConfig(config(upstream.url)), logger: false })
  const b = await buildApp({ env: testEnv(), config: testConfig(config(upstream.url)), logger: false })
  await a.inject({ url: '/api/orders' })
  await a.inject({ url: '/api/orders' })
  await b.inject({ url: '/api/orders' })
  const count = (text: string) => samples(text, 'portico_http_requests_total').get('{method="GET",route="/api/orders",status_code="200",service="orders"}')
  t.equal(count((await a.inject({ url: '/metrics' })).body), 2)
  t.equal(count((await b.inject({ url: '/metrics' })).body), 1)
  await Promise.all([a.close(), b.close()])
  t.pass('both closed')
})

t.test('the Grafana dashboard only queries metrics the gateway exports', async (t) => {
  const { readFileSync } = await import('node:fs')
  const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/portico.json', import.meta.url), 'utf8'))
  const exprs: string[] = []
  const walk = (panels: Array<{ targets?: Array<{ expr: string }>, panels?: unknown[] }>) => {
    for (const p of panels) {
      for (const target of p.targets ?? []) exprs.push(target.expr)
      walk((p.panels ?? []) as typeof panels)
    }
  }
  walk(dashboard.panels)
  t.ok(exprs.length > 15, `${exprs.length} queries`)
  const upstream = await startUpstream(t)
  const app = await build(t, { config: config(upstream.url) })
  // Give every lazily created series a sample, as a busy gateway would have.
  app.metrics.rateLimited('/api/orders')
  app.metrics.upstreamRequest('users', 'a', 0.1)
  app.metrics.upstreamError('users', 'timeout')
  app.metrics.storeError('redis')
  app.metrics.observeCircuits(() => [{ service: 'users', target: 'a', state: 'closed' }])
  await app.inject({ url: '/api/orders' })
  const text = await scrape(app)
  const exported = new Set(text.split('\n').filter(l => l && !l.startsWith('#')).map(l => l.split(/[{ ]/)[0]))
  const names = new Set(exprs.flatMap(e => e.match(/\b(?:portico|process|nodejs)_[a-z0-9_]+/g) ?? []))
  for (const name of names) t.ok(exported.has(name), `${name} is exported`)
})
