import t from 'tap'
import { once, type EventEmitter } from 'node:events'
import { sql } from 'drizzle-orm'
import { BACKENDS, testDatabase, type Backend } from '../../tracking-db.ts'
import type { TestContext } from '../../helper.ts'
import { openTrackingDatabase, type TrackingDatabase } from '../../../services/tracking/database.ts'
import { TrackingWriter, type WriterLog } from '../../../services/tracking/writer.ts'
import { RowQueue } from '../../../services/tracking/row-queue.ts'
import { requests } from '../../../services/tracking/schema.ts'
import { encodeRequest, insertLines } from '../../../services/tracking/insert.ts'
import { BodyCapture } from '../../../services/tracking/capture.ts'
import type { TrackedRequest } from '../../../services/tracking/record.ts'

const log: WriterLog & { lines: Array<[string, string]> } = {
  lines: [],
  info (_o, msg) { this.lines.push(['info', msg]) },
  warn (_o, msg) { this.lines.push(['warn', msg]) },
  error (_o, msg) { this.lines.push(['error', msg]) }
}

function row (i: number, extra: Partial<TrackedRequest> = {}): TrackedRequest {
  return {
    requestId: `r${i}`, startedAt: Date.now(), method: 'GET', url: '/p', route: '/p', service: 's', statusCode: 200,
    durationMs: 1, upstreamMs: null, ip: undefined, userId: null, tier: null, requestHeaders: {}, requestBody: null,
    bytesIn: 0, responseHeaders: {}, responseBody: null, error: null, ...extra
  }
}

async function insertRows (database: TrackingDatabase, rows: TrackedRequest[]): Promise<void> {
  await insertLines(database, rows.map(encodeRequest))
}

async function open (t: TestContext, backend: Backend): Promise<TrackingDatabase> {
  const { url, dataDir } = await testDatabase(t, backend)
  const database = await openTrackingDatabase({ url, dataDir: dataDir ?? '' })
  t.teardown(() => database.close())
  await database.migrate()
  return database
}

/**
 * The writer's 'idle', within `ms`. The writer's own timers are unref'd (they must not keep a
 * finished process alive), so this one holds the test's event loop open while it waits.
 */
async function idle (writer: EventEmitter, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`writer not idle within ${ms} ms`)), ms) })
  try {
    await Promise.race([once(writer, 'idle'), late])
  } finally {
    clearTimeout(timer)
  }
}

async function count (database: TrackingDatabase): Promise<number> {
  const result = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from requests`)
  return result.rows[0].n
}

t.test('RowQueue: ring order, take, unshiftAll at capacity', async (t) => {
  const q = new RowQueue<number>(4)
  for (let i = 0; i < 4; i++) q.push(i)
  t.equal(q.full, true)
  t.throws(() => q.push(9))
  t.same(q.take(3), [0, 1, 2])
  q.push(4); q.push(5)
  t.equal(q.unshiftAll([7, 8, 9]), 2, 'only what fits goes back')
  t.same(q.take(10), [9, 3, 4, 5])
  t.equal(q.length, 0)
  t.equal(q.shift(), undefined)
})

t.test('the queue is bounded by estimated bytes too: the oldest rows go first, counted', async (t) => {
  log.lines.length = 0
  let down = true
  const written: number[] = []
  const writer = new TrackingWriter<{ id: number, size: number }>({
    insert: async (rows) => {
      if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
      written.push(...rows.map(r => r.id))
    },
    prepare: (item) => item,
    sizeOf: (item) => item.size,
    queueMax: 1000,
    queueMaxBytes: 10_000,
    batchSize: 10,
    flushInterval: 10_000,
    retryMinMs: 5,
    retryMaxMs: 20,
    log
  })
  t.teardown(() => writer.close(0))
  for (let i = 0; i < 20; i++) writer.enqueue({ id: i, size: 1000 })
  t.same(writer.stats(), { queued: 10, written: 0, dropped: 10, failed: 0 }, '20 KB offered to a 10 KB bound: the newest 10 rows stay')
  t.equal(writer.queuedBytesEstimate(), 10_000, 'the queued bytes, as the metric reports them')
  t.equal(log.lines.filter(([, m]) => m.includes('queue full')).length, 1, 'logged once')

  // The queued rows become a batch that fails and waits for its retry: its head is the oldest row.
  await writer.flush()
  writer.enqueue({ id: 20, size: 2500 })
  t.same(writer.stats(), { queued: 8, written: 0, dropped: 13, failed: 0 }, 'room for 2.5 KB: three of the waiting batch go')
  t.equal(writer.queuedBytesEstimate(), 9500, 'a batch waiting for its retry counts too')
  writer.enqueue({ id: 21, size: 20_000 })
  t.same(writer.stats(), { queued: 8, written: 0, dropped: 14, failed: 0 }, 'a row alone over the bound is dropped, not the queue')

  down = false
  await idle(writer)
  t.same(written, [13, 14, 15, 16, 17, 18, 19, 20], 'the newest rows are written, in order')
  t.ok(log.lines.some(([, m]) => m.includes('room again')))
})

/** A writer of batches of 100 that records each batch's size and then awaits `write`. */
function batchCounter (t: TestContext, flushInterval: number, write: () => Promise<void>): { writer: TrackingWriter<number, TrackedRequest>, batches: number[] } {
  const batches: number[] = []
  const writer = new TrackingWriter<number, TrackedRequest>({
    insert: async (rows) => {
      batches.push(rows.length)
      await write()
    },
    prepare: (i) => row(i),
    queueMax: 10_000,
    batchSize: 100,
    flushInterval,
    log
  })
  t.teardown(() => writer.close(0))
  return { writer, batches }
}

t.test('rows that arrive during a write wait for a full batch or the next interval, not one small write after another', async (t) => {
  let release: () => void = () => {}
  const { writer, batches } = batchCounter(t, 60_000, () => new Promise<void>(resolve => { release = resolve }))
  for (let i = 0; i < 100; i++) writer.enqueue(i)
  await new Promise(resolve => setImmediate(resolve))
  t.same(batches, [100], 'a full batch is written at once')
  for (let i = 100; i < 130; i++) writer.enqueue(i)
  release()
  await new Promise(resolve => setTimeout(resolve, 20))
  t.same(batches, [100], 'the 30 rows that came meanwhile wait: no write of a partial batch right after a write')
  for (let i = 130; i < 200; i++) writer.enqueue(i)
  await new Promise(resolve => setImmediate(resolve))
  t.same(batches, [100, 100], 'they go once a batch is full')
  for (let i = 200; i < 250; i++) writer.enqueue(i)
  release()
  const flushed = writer.flush()
  await new Promise(resolve => setImmediate(resolve))
  release()
  await flushed
  t.same(batches, [100, 100, 50], 'flush() writes the partial rest')
  t.same(writer.stats(), { queued: 0, written: 250, dropped: 0, failed: 0 })
})

t.test('a row is built when it is enqueued: the queue holds rows, and one that cannot be built is counted as failed', async (t) => {
  log.lines.length = 0
  const built: number[] = []
  let inserted: Buffer[] = []
  const writer = new TrackingWriter<number, Buffer>({
    insert: async (rows) => { inserted = rows },
    prepare: (i) => {
      if (i === 1) throw new Error('unencodable')
      built.push(i)
      return Buffer.from(`r${i}\trow\n`)
    },
    sizeOf: (line) => line.length,
    queueMax: 100,
    batchSize: 100,
    flushInterval: 60_000,
    log
  })
  t.teardown(() => writer.close(0))
  for (let i = 0; i < 3; i++) writer.enqueue(i)
  t.same(built, [0, 2], 'built at enqueue, before any write')
  t.same(writer.stats(), { queued: 2, written: 0, dropped: 0, failed: 1 })
  t.equal(writer.queuedBytesEstimate(), 14, 'the byte bound counts the rows themselves')
  t.ok(log.lines.some(([level, m]) => level === 'error' && m.includes('could not build a row')))
  await writer.flush()
  t.same(inserted.map(String), ['r0\trow\n', 'r2\trow\n'])
})

t.test('the interval writes a partial batch', async (t) => {
  const { writer, batches } = batchCounter(t, 30, async () => {})
  for (let i = 0; i < 7; i++) writer.enqueue(i)
  await idle(writer)
  t.same(batches, [7])
})

for (const { name: backend, skip } of BACKENDS) {
  t.test(backend, { skip }, async (t) => {
    t.beforeEach(() => { log.lines.length = 0 })
    t.test('batches, outage with retries, overflow drops the oldest and counts them', async (t) => {
      const database = await open(t, backend)
      let down = false
      let inserts = 0
      const writer = new TrackingWriter<TrackedRequest>({
        insert: async (rows) => {
          inserts++
          if (down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
          await insertRows(database, rows)
        },
        prepare: r => r,
        queueMax: 100,
        batchSize: 30,
        flushInterval: 10_000,
        retryMinMs: 5,
        retryMaxMs: 20,
        log
      })
      t.teardown(() => writer.close(0))
      for (let i = 0; i < 65; i++) writer.enqueue(row(i))
      await writer.flush()
      t.equal(await count(database), 65)
      t.equal(inserts, 3, 'multi-row inserts of at most batchSize')

      down = true
      let dropped = 0
      writer.on('dropped', (n: number) => { dropped += n })
      for (let i = 65; i < 315; i++) writer.enqueue(row(i))
      await writer.flush()
      t.same(writer.stats(), { queued: 100, written: 65, dropped: 150, failed: 0 })
      t.equal(dropped, 150, "the 'dropped' event matches the count")
      t.equal(log.lines.filter(([, m]) => m.includes('queue full')).length, 1, 'one log line per overflow episode')
      t.equal(log.lines.filter(([, m]) => m.includes('write failed')).length, 1, 'one log line per outage')

      down = false
      await idle(writer)
      t.equal(await count(database), 165)
      const ids = (await database.db.select({ id: requests.request_id }).from(requests)).map(r => Number(r.id.slice(1))).sort((a, b) => a - b)
      t.same(ids.slice(65), Array.from({ length: 100 }, (_, i) => 215 + i), 'the newest 100 survived; the oldest were dropped')
      t.ok(log.lines.some(([, m]) => m.includes('writes resumed')))
    })

    t.test('a row the database rejects is counted as failed; the rest of its batch is written', async (t) => {
      const database = await open(t, backend)
      const writer = new TrackingWriter<TrackedRequest>({
        insert: async (rows) => { await insertRows(database, rows) },
        prepare: r => r,
        queueMax: 100,
        batchSize: 10,
        flushInterval: 10_000,
        log
      })
      t.teardown(() => writer.close(0))
      for (let i = 0; i < 5; i++) writer.enqueue(row(i, i === 2 ? { statusCode: 70_000 } : {}))
      await writer.flush()
      t.same(writer.stats(), { queued: 0, written: 4, dropped: 0, failed: 1 })
      t.equal(await count(database), 4)
    })

    t.test('COPY keeps every value as it was: separators, backslashes, NUL, unicode, nulls, JSON', async (t) => {
      const database = await open(t, backend)
      const awkward = 'tab\there\nnew line\r\\N \\. back\\slash "quoted" é 日本 🚀'
      const headers = { 'x-odd': 'a\tb\\c"d\ne', via: ['one', 'two\\'], 'user-agent': '\\.' }
      const responseBody = new BodyCapture(100)
      responseBody.addString('nul\u0000byte')
      const requestBody = new BodyCapture(4)
      requestBody.add(Buffer.from('1234567'))
      const startedAt = Date.UTC(2026, 10, 27, 9, 4, 46, 57) + 0.5
      await insertRows(database, [
        row(1, { url: `/p?${awkward}`, startedAt, requestHeaders: headers, responseHeaders: { 'content-type': 'text/plain' }, responseBody, requestBody, durationMs: 1.5, upstreamMs: 0.125 }),
        row(2)
      ])
      const rows = await database.db.select().from(requests).orderBy(requests.request_id)
      t.equal(rows.length, 2)
      t.equal(rows[0].path, '/p')
      t.equal(rows[0].query, awkward)
      t.equal(rows[0].user_agent, '\\.', 'a lone \\. is data, not the end-of-data marker')
      t.equal(rows[0].response_body, 'nul\uFFFDbyte', 'NUL, which PostgreSQL text cannot hold, becomes U+FFFD')
      t.same(rows[0].request_headers, headers)
      t.equal(rows[0].created_at.getTime(), Math.trunc(startedAt))
      t.equal(rows[0].duration_ms, 1.5)
      t.equal(rows[0].upstream_ms, 0.13, 'timings are kept to a hundredth of a millisecond')
      t.equal(rows[0].request_body, '1234')
      t.equal(rows[0].bytes_in, 7)
      t.equal(rows[0].request_body_truncated, true)
      t.equal(rows[1].query, null, 'absent values are NULL')
      t.equal(rows[1].user_agent, null)
      t.equal(rows[1].upstream_ms, null)
      t.equal(rows[1].bytes_in, 0)
      t.equal(rows[1].request_body_truncated, false)
    })

    t.test('close() writes what is queued, and counts what it could not write', async (t) => {
      const database = await open(t, backend)
      let down = false
      const writer = new TrackingWriter<TrackedRequest>({
        insert: async (rows) => {
          if (down) throw new Error('Connection terminated unexpectedly')
          await insertRows(database, rows)
        },
        prepare: r => r,
        queueMax: 1000,
        batchSize: 100,
        flushInterval: 60_000,
        log
      })
      for (let i = 0; i < 250; i++) writer.enqueue(row(i))
      await writer.close(1000)
      t.equal(await count(database), 250)
      writer.enqueue(row(999))
      t.same(writer.stats(), { queued: 0, written: 250, dropped: 1, failed: 0 }, 'a row after the shutdown flush is counted as dropped')

      const second = new TrackingWriter<TrackedRequest>({
        insert: async () => { throw new Error('Connection terminated unexpectedly') },
        prepare: r => r,
        queueMax: 1000,
        batchSize: 100,
        flushInterval: 60_000,
        retryMinMs: 10,
        log
      })
      down = true
      for (let i = 0; i < 7; i++) second.enqueue(row(i))
      const started = Date.now()
      await second.close(200)
      t.ok(Date.now() - started < 1000, 'close gives up at its deadline')
      t.same(second.stats(), { queued: 0, written: 0, dropped: 7, failed: 0 })
      t.ok(log.lines.some(([level, m]) => level === 'error' && m.includes('lost')))
    })
  })
}
