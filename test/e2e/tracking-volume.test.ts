import t from 'tap'
import { request } from 'undici'
import { listen, startUpstream } from '../helper.ts'
import { BACKENDS, testDatabase } from '../tracking-db.ts'
import { buildApp } from '../../app.ts'
import { testConfig, testEnv } from '../helper.ts'

const REQUESTS = 2000
const CONCURRENCY = 50

for (const { name: backend, skip } of BACKENDS) {
  t.test(`${backend}: ${REQUESTS} requests through real sockets → ${REQUESTS} rows`, { skip }, async (t) => {
    const db = await testDatabase(t, backend)
    const upstream = await startUpstream(t)
    const { app, url } = await listen(t, {
      config: { services: { s: { url: upstream.url } }, routes: [{ path: '/api/items/:id', service: 's', upstreamPath: '/items/:id' }] },
      env: db.env
    })
    let next = 0
    const statuses = new Map<number, number>()
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++
        const res = await request(`${url}/api/items/${i}?n=${i}`, { headers: { 'x-request-id': `vol-${i}` } })
        await res.body.dump()
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      }
    }))
    t.same(Object.fromEntries(statuses), { 200: REQUESTS })
    await app.tracking.flush()
    t.same(app.tracking.stats(), { queued: 0, written: REQUESTS, dropped: 0, failed: 0 })
    const rows = await app.tracking.list({ limit: 1000, path: '/api/items/*' })
    t.equal(rows.length, 1000)
    const ids = new Set((await app.tracking.database!.db.execute<{ request_id: string }>('select request_id from requests')).rows.map(r => r.request_id))
    t.equal(ids.size, REQUESTS, 'one row per request, no duplicates')
    t.ok(ids.has('vol-0') && ids.has(`vol-${REQUESTS - 1}`))
  })
}

t.test('pglite: the embedded database survives a restart', async (t) => {
  const db = await testDatabase(t, 'pglite')
  const upstream = await startUpstream(t)
  const config = testConfig({ services: { s: { url: upstream.url } }, routes: [{ path: '/x', service: 's' }] })
  const first = await buildApp({ env: testEnv(db.env), config, logger: false })
  await first.inject({ url: '/x', headers: { 'x-request-id': 'before-restart' } })
  await first.close()
  const second = await buildApp({ env: testEnv(db.env), config, logger: false })
  t.teardown(() => second.close())
  await second.ready()
  const rows = await second.tracking.list({})
  t.same(rows.map(r => r.request_id), ['before-restart'], 'written on close, read after reopening')
  const ready = await second.inject('/health/ready')
  t.match(ready.json(), { checks: { database: { status: 'up' } } })
})
