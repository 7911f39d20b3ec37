import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sql } from 'drizzle-orm'
import { request } from 'undici'
import { startUpstream } from '../helper.ts'
import { BACKENDS, testDatabase } from '../tracking-db.ts'
import { openTrackingDatabase } from '../../services/tracking/database.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const REQUESTS = 120

for (const { name: backend, skip } of BACKENDS) {
  t.test(`${backend}: SIGTERM writes every queued row before the process exits 0`, { skip }, async (t) => {
    const db = await testDatabase(t, backend)
    const upstream = await startUpstream(t)
    const dir = await mkdtemp(join(tmpdir(), 'portico-sigterm-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const configFile = join(dir, 'gateway.json')
    await writeFile(configFile, JSON.stringify({ services: { s: { url: upstream.url } }, routes: [{ path: '/api/:id', service: 's' }] }))

    const child = spawn(process.execPath, ['--import', 'tsx', 'server.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...db.env,
        DATABASE_URL: db.env.DATABASE_URL ?? '',
        GATEWAY_CONFIG: configFile,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        // Nothing is written before the signal: every row depends on the shutdown flush.
        TRACKING_FLUSH_INTERVAL: '1h',
        TRACKING_BATCH_SIZE: '2000'
      },
      stdio: ['ignore', 'pipe', 'inherit']
    })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    const exited = once(child, 'exit')
    const lines: Array<Record<string, unknown>> = []
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line)
          lines.push(entry)
          const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg))
          if (match) resolve(match[1])
        } catch {}
      })
      child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening`)))
    })

    const statuses = new Set<number>()
    for (let i = 0; i < REQUESTS; i++) {
      const res = await request(`${url}/api/${i}`, { headers: { 'x-request-id': `term-${i}` } })
      await res.body.dump()
      statuses.add(res.statusCode)
    }
    t.same(statuses, new Set([200]))
    child.kill('SIGTERM')
    const [code] = await exited
    t.equal(code, 0, 'exit code 0')
    t.ok(lines.some(l => l.msg === 'shut down cleanly'))

    const database = await openTrackingDatabase({ url: db.url, dataDir: db.dataDir ?? '' })
    t.teardown(() => database.close())
    const result = await database.db.execute<{ n: number }>(sql`select count(*)::int as n from requests where request_id like 'term-%'`)
    t.equal(result.rows[0].n, REQUESTS, 'every request is a row')
  })
}
