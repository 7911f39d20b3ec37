import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { BACKENDS, testDatabase } from '../../tracking-db.ts'
import { openTrackingDatabase } from '../../../services/tracking/database.ts'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const run = promisify(execFile)

for (const { name: backend, skip } of BACKENDS) {
  t.test(`${backend}: npm run db:migrate applies the committed migrations, idempotently`, { skip }, async (t) => {
    const db = await testDatabase(t, backend)
    const env = { ...process.env, ...db.env, DATABASE_URL: db.env.DATABASE_URL ?? '' }
    for (let round = 0; round < 2; round++) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'services/tracking/migrate-cli.ts'], { cwd: ROOT, env })
      t.match(stdout, `migrations applied to ${backend} database`)
    }
    const database = await openTrackingDatabase({ url: db.url, dataDir: db.dataDir ?? '' })
    t.teardown(() => database.close())
    const columns = await database.db.execute<{ column_name: string }>(sql`select column_name from information_schema.columns where table_name = 'requests'`)
    const names = columns.rows.map(r => r.column_name)
    for (const c of ['id', 'request_id', 'created_at', 'method', 'path', 'route', 'service', 'status_code', 'duration_ms', 'ip', 'user_id', 'cache_status', 'request_headers', 'request_body', 'response_body', 'error', 'query']) {
      t.ok(names.includes(c), `column ${c}`)
    }
    const applied = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
    const journal = JSON.parse(readFileSync(new URL('drizzle/meta/_journal.json', `file://${ROOT}`), 'utf8')) as { entries: unknown[] }
    t.equal(applied.rows[0].n, journal.entries.length, 'each migration recorded once')
    const indexes = await database.db.execute<{ indexname: string, indexdef: string }>(sql`select indexname, indexdef from pg_indexes where tablename = 'requests'`)
    const def = (name: string) => indexes.rows.find(r => r.indexname === name)?.indexdef ?? ''
    t.match(def('requests_created_at_idx'), /\(created_at DESC NULLS LAST\)$/, 'every row is in the created_at index')
    t.match(def('requests_path_created_at_idx'), /\(path, created_at DESC NULLS LAST\)$/, 'and in the path index')
    t.match(def('requests_status_created_at_idx'), /WHERE \(status_code >= 400\)/, 'the status index holds errors only')
    t.match(def('requests_user_created_at_idx'), /WHERE \(user_id IS NOT NULL\)/, 'the user index holds signed-in requests only')
  })
}

t.test('a bad DATABASE_URL stops db:migrate with one clear line', async (t) => {
  const err = await run(process.execPath, ['--import', 'tsx', 'services/tracking/migrate-cli.ts'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: 'mysql://x' } }).catch(e => e)
  t.equal(err.code, 1)
  t.match(err.stderr, /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//)
})
