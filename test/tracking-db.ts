import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import tap from 'tap'
import { PGlite } from '@electric-sql/pglite'
import { DATABASE_URL, type TestContext } from './helper.ts'

// Tracking tests send more requests per route than the default anonymous limit allows; the
// limiter has its own tests.
const TRACKING_TEST_ENV = { TRACKING_ENABLED: 'true', RATE_LIMIT_TIERS: 'anonymous:1000000' }

export type Backend = 'pglite' | 'postgres'

/** PGlite always; real PostgreSQL too when DATABASE_URL is set. */
export const BACKENDS: Array<{ name: Backend, skip: string | false }> = [
  { name: 'pglite', skip: false },
  { name: 'postgres', skip: DATABASE_URL ? false : 'needs DATABASE_URL (real PostgreSQL)' }
]

export interface TestDatabase {
  /** Env that points the gateway's tracking at this database. */
  env: Record<string, string>
  /** postgres:// URL of the database (postgres backend only). */
  url?: string
  /** PGlite data directory (pglite backend only). */
  dataDir?: string
}

// PGlite's initdb costs seconds of CPU; reopening a directory costs a fraction. Tests of one file
// run one after another, so they share one directory, emptied before each test.
let fileDataDir: string | undefined

/**
 * A database of its own for one test: an emptied PGlite directory (one per test file, removed
 * when the file ends), or a fresh PostgreSQL database (`portico_test_<random>`) on the
 * DATABASE_URL server, dropped when the test ends.
 */
export async function testDatabase (t: TestContext, backend: Backend): Promise<TestDatabase> {
  if (backend === 'pglite') {
    if (fileDataDir === undefined) {
      const dir = fileDataDir = await mkdtemp(join(tmpdir(), 'portico-tracking-'))
      tap.teardown(() => rm(dir, { recursive: true, force: true }))
    } else {
      const db = await PGlite.create(fileDataDir)
      await db.exec('drop table if exists requests; drop schema if exists drizzle cascade')
      await db.close()
    }
    return { env: { ...TRACKING_TEST_ENV, DATA_DIR: fileDataDir }, dataDir: fileDataDir }
  }
  const name = `portico_test_${randomBytes(6).toString('hex')}`
  await adminQuery(`create database ${name}`)
  t.teardown(() => adminQuery(`drop database if exists ${name} with (force)`))
  const url = new URL(DATABASE_URL!)
  url.pathname = '/' + name
  return { env: { ...TRACKING_TEST_ENV, DATABASE_URL: url.toString() }, url: url.toString() }
}

async function adminQuery (text: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}
