import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import pino from 'pino'
import { buildApp, REDACTED_LOG_PATHS } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import { NO_RATE_LIMIT } from '../plain-route.ts'
import type { BenchContext, BenchScenario, BenchTarget } from '../scenario.ts'

// The plain route of portico-plain, with tracking left on (its default); other per-route
// concerns stay off so the ratio shows what tracking alone costs.
const SETTLE_MS = 3000

/** A database of its own: a fresh PostgreSQL database next to ctx.databaseUrl, else PGlite in a temp dir. */
async function benchDatabase (ctx: BenchContext): Promise<{ env: Record<string, string>, drop (): Promise<void> }> {
  if (ctx.databaseUrl === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'portico-bench-tracking-'))
    return { env: { DATA_DIR: dir }, drop: () => rm(dir, { recursive: true, force: true }) }
  }
  const name = `portico_bench_${randomBytes(4).toString('hex')}`
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: ctx.databaseUrl })
    await client.connect()
    try { await client.query(text) } finally { await client.end() }
  }
  await admin(`create database ${name}`)
  const url = new URL(ctx.databaseUrl)
  url.pathname = '/' + name
  return { env: { DATABASE_URL: url.toString() }, drop: () => admin(`drop database if exists ${name} with (force)`) }
}

async function trackedPortico (ctx: BenchContext): Promise<BenchTarget> {
  const database = await benchDatabase(ctx)
  const env = loadEnv({ LOG_LEVEL: 'warn', TRACKING_ENABLED: 'true', ...database.env })
  const app = await buildApp({
    env,
    config: parseConfig(JSON.stringify({
      services: { bench: { url: ctx.upstreamUrl } },
      routes: [{ path: '/bench', methods: ['GET'], service: 'bench', ...NO_RATE_LIMIT }]
    }), 'bench-tracking.json'),
    logger: { level: 'warn', redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' }, stream: pino.destination({ dest: '/dev/null', sync: true }) }
  })
  // Counted on the server's own event, outside the measured hooks.
  let requests = 0
  app.server.on('request', () => { requests++ })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    url,
    path: '/bench',
    async report () {
      // Requests still in flight when the load stopped (their clients gone) become rows a moment later.
      const deadline = Date.now() + SETTLE_MS
      for (;;) {
        await app.tracking.flush()
        const { written, dropped, failed } = app.tracking.stats()
        if (written + dropped + failed >= requests || Date.now() > deadline) break
        await new Promise(resolve => setTimeout(resolve, 20))
      }
      const { written, dropped, failed, queued } = app.tracking.stats()
      return { requestsReceived: requests, rowsWritten: written, rowsDropped: dropped, rowsFailed: failed, rowsQueued: queued, rowsLost: requests - written - dropped - failed }
    },
    async close () {
      await app.close()
      await database.drop()
    }
  }
}

export const scenarios: BenchScenario[] = [
  {
    name: 'tracking-on',
    description: 'portico-plain with request tracking on: a row per request, batched into PostgreSQL (DATABASE_URL) or embedded PGlite',
    baseline: 'portico-plain',
    target: 0.85,
    setup: trackedPortico
  }
]
