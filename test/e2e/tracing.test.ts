import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startUpstream, REDIS_URL, DATABASE_URL } from '../helper.ts'
import { SPAN_KIND, spawnGateway, startOtlpReceiver, type ReceivedSpan } from '../otlp-receiver.ts'

function tempConfig (t: { teardown (fn: () => void): void }, upstreamUrl: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-tracing-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'gateway.json')
  writeFileSync(file, JSON.stringify({
    services: { things: { url: upstreamUrl } },
    routes: [{ path: '/api/things/:id', service: 'things', upstreamPath: '/things/:id' }]
  }))
  return file
}

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c'
const CLIENT_PARENT = 'b7ad6b7169203331'

t.test('spans reach an OTLP receiver with parent/child links; upstreams get the trace id', async (t) => {
  const upstream = await startUpstream(t)
  const receiver = await startOtlpReceiver(t)
  const gateway = await spawnGateway(t, {
    GATEWAY_CONFIG: tempConfig(t, upstream.url),
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_SERVICE_NAME: 'portico-e2e',
    // Nothing is exported on a timer during the test: every span must come from the flush that
    // SIGTERM triggers, which is what this checks.
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    TRACKING_ENABLED: 'false'
  })

  // 1. A client that is itself traced: the gateway continues its trace.
  let res = await fetch(`${gateway.url}/api/things/42`, { headers: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`, authorization: 'Bearer not-in-the-log' } })
  t.equal(res.status, 200)
  await res.text()
  // 2. An untraced client: a new trace starts at the gateway.
  res = await fetch(`${gateway.url}/api/things/43`)
  t.equal(res.status, 200)
  await res.text()
  // 3. Probes and scrapes are not traced.
  await (await fetch(`${gateway.url}/health`)).text()
  await (await fetch(`${gateway.url}/metrics`)).text()

  t.equal(await gateway.stop(), 0, 'SIGTERM exits 0')
  const spans = receiver.spans
  t.ok(spans.length > 0, `spans flushed at shutdown (${spans.length})`)

  // The upstream saw exactly one traceparent: the gateway's client span, in the client's trace.
  const first = upstream.requests.find(r => r.url === '/things/42')!
  t.type(first.headers.traceparent, 'string', 'one traceparent header, not the client\'s copied beside ours')
  const m1 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(first.headers.traceparent))
  t.ok(m1, `traceparent ${first.headers.traceparent}`)
  t.equal(m1![1], CLIENT_TRACE, 'same trace id as the client')
  t.not(m1![2], CLIENT_PARENT, 'parent is the gateway\'s span, not the client\'s')

  const byId = new Map(spans.map(s => [s.spanId, s]))
  const checkChain = (traceId: string, clientSpanId: string, route: string, parent: string | undefined) => {
    const clientSpan = byId.get(clientSpanId) as ReceivedSpan
    t.ok(clientSpan, 'the upstream call is a span')
    t.equal(clientSpan.kind, SPAN_KIND.CLIENT)
    t.equal(clientSpan.traceId, traceId)
    t.equal(clientSpan.scope, 'portico')
    t.match(String(clientSpan.attributes['url.full']), /\/things\//)
    const server = byId.get(clientSpan.parentSpanId!) as ReceivedSpan
    t.ok(server, 'the upstream call\'s parent, the server span, was exported')
    t.equal(server.scope, '@fastify/otel')
    t.equal(server.attributes['http.route'], route)
    t.equal(server.kind, SPAN_KIND.SERVER)
    t.equal(server.name, `GET ${route}`, 'server span named by route')
    t.equal(server.traceId, traceId)
    t.equal(server.parentSpanId, parent)
    return server
  }
  checkChain(CLIENT_TRACE, m1![2], '/api/things/:id', CLIENT_PARENT)

  const second = upstream.requests.find(r => r.url === '/things/43')!
  const m2 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(second.headers.traceparent))!
  t.ok(m2)
  t.not(m2[1], CLIENT_TRACE, 'an untraced request starts a trace of its own')
  checkChain(m2[1], m2[2], '/api/things/:id', undefined)

  t.notOk(spans.some(s => /\/(health|metrics)/.test(String(s.attributes['url.path'] ?? s.attributes['http.route'] ?? ''))), 'no span for /health or /metrics')
  t.equal(spans.length, 4, 'two spans per proxied request: server and upstream call')
  t.ok(spans.every(s => s.traceId === CLIENT_TRACE || s.traceId === m2[1]), 'no stray traces (exporter calls are not traced)')

  // Each access line carries its trace id, and nothing secret.
  const lines = gateway.logs.filter(l => l.msg === 'request completed')
  t.equal(lines.find(l => l.path === '/api/things/42')?.traceId, CLIENT_TRACE)
  t.equal(lines.find(l => l.path === '/api/things/43')?.traceId, m2[1])
  t.equal(lines.find(l => l.path === '/health')?.traceId, undefined, 'untraced path: no trace id')
  t.notOk(JSON.stringify(gateway.logs).includes('not-in-the-log'), 'credentials never reach the log')
})

t.test('without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced and traceparent passes through', async (t) => {
  const upstream = await startUpstream(t)
  const gateway = await spawnGateway(t, { GATEWAY_CONFIG: tempConfig(t, upstream.url), TRACKING_ENABLED: 'false' })
  const incoming = `00-${CLIENT_TRACE}-${CLIENT_PARENT}-01`
  const res = await fetch(`${gateway.url}/api/things/7`, { headers: { traceparent: incoming } })
  t.equal(res.status, 200)
  await res.text()
  t.equal(upstream.requests[0].headers.traceparent, incoming, 'forwarded untouched')
  t.equal(await gateway.stop(), 0)
  const line = gateway.logs.find(l => l.msg === 'request completed')!
  t.ok(line, 'access line written')
  t.equal(line.traceId, undefined)
})

t.test('Redis and PostgreSQL commands become child spans', {
  skip: REDIS_URL || DATABASE_URL ? false : 'needs REDIS_URL or DATABASE_URL'
}, async (t) => {
  const receiver = await startOtlpReceiver(t)
  const fixture = await spawnGateway(t, {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '600000',
    REDIS_URL,
    DATABASE_URL
  }, 'test/fixtures/traced-clients.ts')
  t.equal(await fixture.stop(), 0)
  const parent = receiver.spans.find(s => s.name === 'fixture-parent')
  t.ok(parent, 'the fixture\'s own span')
  if (REDIS_URL) {
    const redis = receiver.spans.find(s => s.scope === '@opentelemetry/instrumentation-ioredis')
    t.ok(redis, 'an ioredis span')
    t.equal(redis?.parentSpanId, parent?.spanId, 'child of the active span')
    t.equal(redis?.kind, SPAN_KIND.CLIENT)
  }
  if (DATABASE_URL) {
    const pg = receiver.spans.find(s => s.scope === '@opentelemetry/instrumentation-pg' && /SELECT/.test(s.name))
    t.ok(pg, 'a pg query span')
    t.equal(pg?.traceId, parent?.traceId)
    t.equal(pg?.kind, SPAN_KIND.CLIENT)
  }
})
