import t from 'tap'
import { once } from 'node:events'
import { request } from 'undici'
import { DATABASE_URL, listen, startUpstream, type TestContext } from '../helper.ts'
import { testDatabase } from '../tracking-db.ts'
import { startTcpProxy } from '../tcp-proxy.ts'
import { noopMetrics } from '../../services/metrics/types.ts'

const skip = DATABASE_URL ? false : 'needs DATABASE_URL (a real PostgreSQL behind a TCP proxy)'
const OUTAGE_MS = 3000
// Generous for a loaded 2-core CI machine; a request that waited on the database would take seconds.
const SLOW_MS = 1000

async function setup (t: TestContext, env: Record<string, string> = {}) {
  const db = await testDatabase(t, 'postgres')
  const pgUrl = new URL(db.url!)
  const proxy = await startTcpProxy(t, pgUrl.hostname, Number(pgUrl.port || 5432))
  pgUrl.host = `127.0.0.1:${proxy.port}`
  const upstream = await startUpstream(t)
  const { app, url } = await listen(t, {
    config: { services: { s: { url: upstream.url } }, routes: [{ path: '/api/things/:id', service: 's' }] },
    env: { TRACKING_ENABLED: 'true', RATE_LIMIT_TIERS: 'anonymous:1000000', DATABASE_URL: pgUrl.toString(), TRACKING_FLUSH_INTERVAL: '50ms', ...env }
  })
  const counts = { written: 0, dropped: 0, failed: 0 }
  app.metrics = { ...noopMetrics, trackingRows: (outcome, n) => { counts[outcome] += n } }
  return { app, url, proxy, counts }
}

async function send (url: string, i: number): Promise<{ status: number, ms: number }> {
  const started = performance.now()
  const res = await request(`${url}/api/things/${i}`, { headers: { 'x-request-id': `out-${i}` } })
  await res.body.dump()
  return { status: res.statusCode, ms: performance.now() - started }
}

t.test('a database outage neither fails nor slows requests; every row arrives after it heals', { skip }, async (t) => {
  const { app, url, proxy, counts } = await setup(t)
  let i = 0
  const results: Array<{ status: number, ms: number }> = []
  const sendFor = async (ms: number) => {
    const until = Date.now() + ms
    while (Date.now() < until) {
      results.push(await send(url, i++))
      await new Promise(resolve => setTimeout(resolve, 5))
    }
  }
  await sendFor(500)
  await app.tracking.flush()
  const beforeCut = app.tracking.stats().written
  t.ok(beforeCut > 0, 'rows are written while the database is up')

  proxy.cut()
  await Promise.all([sendFor(OUTAGE_MS), sendFor(OUTAGE_MS)])
  const duringCut = app.tracking.stats()
  t.ok(duringCut.queued > 0, `rows wait in the queue during the outage (${duringCut.queued})`)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503, 'readiness reports the database down')
  t.match(ready.json(), { checks: { database: { status: 'down' } } })

  proxy.heal()
  await sendFor(300)
  const total = i
  const deadline = Date.now() + 20_000
  while (app.tracking.stats().written < total && Date.now() < deadline) await once(app.tracking.writer!, 'written')
  t.equal(results.length, total)
  t.same(results.filter(r => r.status !== 200), [], 'every request answered 200')
  const slowest = Math.max(...results.map(r => r.ms))
  t.ok(slowest < SLOW_MS, `no request waited on the database (slowest ${slowest.toFixed(1)} ms)`)
  t.same(app.tracking.stats(), { queued: 0, written: total, dropped: 0, failed: 0 })
  t.equal(counts.written, total - beforeCut + beforeCut, 'written rows reported to metrics')
  const n = await app.tracking.database!.db.execute<{ n: number }>('select count(distinct request_id)::int as n from requests')
  t.equal(n.rows[0].n, total, 'every request is a row')
  t.equal((await app.inject('/health/ready')).statusCode, 200, 'ready again')
})

t.test('queue overflow during an outage drops the oldest rows and counts them', { skip }, async (t) => {
  const { app, url, proxy, counts } = await setup(t, { TRACKING_QUEUE_MAX: '40', TRACKING_BATCH_SIZE: '10' })
  proxy.cut()
  const statuses = []
  for (let i = 0; i < 100; i++) statuses.push((await send(url, i)).status)
  t.same(new Set(statuses), new Set([200]), 'every request answered 200')
  t.same(app.tracking.stats(), { queued: 40, written: 0, dropped: 60, failed: 0 })
  t.equal(counts.dropped, 60, 'trackingRows("dropped") matches')
  proxy.heal()
  while (app.tracking.stats().written < 40) await once(app.tracking.writer!, 'written')
  const ids = (await app.tracking.database!.db.execute<{ request_id: string }>('select request_id from requests')).rows
    .map(r => Number(r.request_id.slice(4))).sort((a, b) => a - b)
  // The oldest rows go first, except a batch of 10 being written at that moment (it may yet
  // succeed, so it is not dropped): 40 rows are kept, always the newest 30 among them, and the
  // newest 40 unless a retry was in flight when the last requests came.
  t.equal(ids.length, 40, '40 rows kept')
  t.same(ids.slice(-30), Array.from({ length: 30 }, (_, k) => 70 + k), 'the newest 30 among them')
})

t.test('PostgreSQL down at start-up: the gateway starts, queues rows, migrates and writes once it is back', { skip }, async (t) => {
  const db = await testDatabase(t, 'postgres')
  const pgUrl = new URL(db.url!)
  const proxy = await startTcpProxy(t, pgUrl.hostname, Number(pgUrl.port || 5432))
  pgUrl.host = `127.0.0.1:${proxy.port}`
  proxy.cut()
  const upstream = await startUpstream(t)
  const { app, url } = await listen(t, {
    config: { services: { s: { url: upstream.url } }, routes: [{ path: '/api/things/:id', service: 's' }] },
    env: { TRACKING_ENABLED: 'true', RATE_LIMIT_TIERS: 'anonymous:1000000', DATABASE_URL: pgUrl.toString(), TRACKING_FLUSH_INTERVAL: '50ms' }
  })
  for (let i = 0; i < 10; i++) t.equal((await send(url, i)).status, 200)
  const ready = await app.inject('/health/ready')
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { checks: { database: { status: 'down', error: /migrations not applied/ } } })
  t.equal(app.tracking.stats().queued, 10)
  proxy.heal()
  while (app.tracking.stats().written < 10) await once(app.tracking.writer!, 'written')
  t.same(app.tracking.stats(), { queued: 0, written: 10, dropped: 0, failed: 0 })
  t.equal((await app.inject('/health/ready')).statusCode, 200)
})
