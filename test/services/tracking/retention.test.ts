import t from 'tap'
import pg from 'pg'
import { sql } from 'drizzle-orm'
import { BACKENDS, testDatabase } from '../../tracking-db.ts'
import { openTrackingDatabase } from '../../../services/tracking/database.ts'
import { RetentionJob, RETENTION_LOCK_KEY } from '../../../services/tracking/retention.ts'
import { requests, type NewRequestRow } from '../../../services/tracking/schema.ts'

const log = { info () {}, warn () {}, error () {} }
const DAY = 86_400_000

function row (i: number, ageMs: number, now: number): NewRequestRow {
  return {
    request_id: `r${i}`, created_at: new Date(now - ageMs), method: 'GET', path: '/p', route: '/p', service: 's',
    status_code: 200, duration_ms: 1, request_headers: {}, response_headers: {}
  }
}

for (const { name: backend, skip } of BACKENDS) {
  t.test(backend, { skip }, async (t) => {
    const { url, dataDir } = await testDatabase(t, backend)
    const database = await openTrackingDatabase({ url, dataDir: dataDir ?? '' })
    t.teardown(() => database.close())
    await database.migrate()
    const now = Date.now()
    const old = Array.from({ length: 1250 }, (_, i) => row(i, 31 * DAY + i * 1000, now))
    const fresh = Array.from({ length: 40 }, (_, i) => row(10_000 + i, 29 * DAY, now))
    for (let i = 0; i < old.length; i += 500) await database.db.insert(requests).values(old.slice(i, i + 500))
    await database.db.insert(requests).values(fresh)

    const job = new RetentionJob(database.db, { retentionMs: 30 * DAY, log, batchSize: 300 })
    t.equal(job.intervalMs, 3_600_000, 'hourly for a 30 day retention')

    if (backend === 'postgres') {
      // Another instance is deleting: this one leaves the run to it.
      const other = new pg.Client({ connectionString: url })
      await other.connect()
      await other.query('select pg_advisory_lock($1)', [RETENTION_LOCK_KEY])
      t.same(await job.runOnce(new Date(now)), { deleted: 0, skipped: true })
      await other.query('select pg_advisory_unlock($1)', [RETENTION_LOCK_KEY])
      await other.end()
    }

    t.same(await job.runOnce(new Date(now)), { deleted: 1250, skipped: false }, 'every expired row, in batches of 300')
    const left = await database.db.execute<{ n: number, oldest: string }>(sql`select count(*)::int as n, min(created_at)::text as oldest from requests`)
    t.equal(left.rows[0].n, 40, 'rows within the retention stay')
    t.same(await job.runOnce(new Date(now)), { deleted: 0, skipped: false })

    // The periodic schedule runs it by itself and stops cleanly.
    await database.db.insert(requests).values([row(99_999, 40 * DAY, now)])
    const periodic = new RetentionJob(database.db, { retentionMs: 30 * DAY, log, intervalMs: 20 })
    periodic.start(1)
    for (let n = 41; n !== 40;) {
      await new Promise(resolve => setTimeout(resolve, 20))
      n = (await database.db.execute<{ n: number }>(sql`select count(*)::int as n from requests`)).rows[0].n
    }
    await periodic.stop()
    t.pass('the periodic job deleted the expired row')
  })
}
