import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
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
    t.equal(applied.rows[0].n, 1, 'each migration recorded once')
  })
}

t.test('a bad DATABASE_URL stops db:migrate with one clear line', async (t) => {
  const err = await run(process.execPath, ['--import', 'tsx', 'services/tracking/migrate-cli.ts'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: 'mysql://x' } }).catch(e => e)
  t.equal(err.code, 1)
  t.match(err.stderr, /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//)
})
