import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { finished } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFromStdin } from 'pg-copy-streams'
import { PGlite } from '@electric-sql/pglite'
import { sql } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'

/** The committed SQL that drizzle-kit generated from schema.ts. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))

// node-postgres pool: a few connections are plenty for batched inserts and admin reads; each
// attempt fails within seconds so the writer's backoff, not a hung socket, decides what happens.
const POOL_MAX = 4
const CONNECT_TIMEOUT_MS = 3000
const STATEMENT_TIMEOUT_MS = 15_000
const IDLE_TIMEOUT_MS = 30_000
// One key for every Portico instance sharing a database, so migrations never run twice at once.
export const MIGRATION_LOCK_KEY = 0x506f7274 // 'Port'

/** What both drivers' raw results have in common: node-postgres' QueryResult and PGlite's Results. */
export interface TrackingQueryResultHKT extends PgQueryResultHKT {
  readonly type: RawRows<this['row']>
}
export interface RawRows<R> { rows: R[] }

/** The one drizzle type both drivers share: every query in services/tracking is written against it. */
export type TrackingDb = PgDatabase<TrackingQueryResultHKT>

export interface TrackingDatabase {
  db: TrackingDb
  kind: 'postgres' | 'pglite'
  /** Where it lives, without credentials: a host/db or a directory. */
  location: string
  /** Applies the committed migrations (idempotent; serialised across instances by an advisory lock). */
  migrate (): Promise<void>
  /**
   * `COPY <target> FROM` the given COPY-text lines (UTF-8): STDIN over a pooled connection, or a blob in
   * PGlite. All or nothing; rejects with the server's error (its SQLSTATE on `code`).
   */
  copyFrom (target: string, text: Buffer): Promise<void>
  /** One round trip; rejects when the database cannot answer. */
  ping (): Promise<void>
  close (): Promise<void>
}

export interface OpenOptions {
  /** postgres:// URL; absent = embedded PGlite in dataDir. */
  url?: string
  /** Directory of the embedded database files (created when missing). */
  dataDir: string
  /** Called for errors of idle pooled connections (a restarted server), which would otherwise crash the process. */
  onIdleError?: (err: Error) => void
}

/** DATABASE_URL → a node-postgres pool; unset → PGlite under DATA_DIR. Same drizzle API either way. */
export async function openTrackingDatabase (opts: OpenOptions): Promise<TrackingDatabase> {
  return opts.url !== undefined ? openPostgres(opts.url, opts.onIdleError) : openPglite(opts.dataDir)
}

function openPostgres (url: string, onIdleError?: (err: Error) => void): TrackingDatabase {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_MAX,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 1000,
    application_name: 'portico-tracking'
  })
  pool.on('error', (err) => onIdleError?.(err))
  const db = drizzlePg({ client: pool }) as unknown as TrackingDb
  const parsed = new URL(url)
  let closed = false
  return {
    db,
    kind: 'postgres',
    location: `${parsed.hostname}:${parsed.port || 5432}${parsed.pathname}`,
    async migrate () {
      // The lock is per session: take it on one dedicated connection and migrate through it.
      const client = await pool.connect()
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
        try {
          await migratePg(drizzlePg({ client }), { migrationsFolder: MIGRATIONS_FOLDER })
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
        }
      } finally {
        client.release()
      }
    },
    async copyFrom (target, text) {
      const client = await pool.connect()
      try {
        // The pool's query_timeout covers a COPY too: a server that stops answering fails it.
        const stream = client.query(copyFromStdin(`copy ${target} from stdin`))
        stream.end(text)
        await finished(stream)
      } catch (err) {
        // After a failed COPY the connection may be mid-protocol: drop it rather than reuse it.
        client.release(err as Error)
        throw err
      }
      client.release()
    },
    async ping () { await db.execute(sql`select 1`) },
    async close () {
      if (closed) return
      closed = true
      await pool.end()
    }
  }
}

async function openPglite (dataDir: string): Promise<TrackingDatabase> {
  mkdirSync(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir)
  const db = drizzlePglite({ client })
  let closed = false
  return {
    db: db as unknown as TrackingDb,
    kind: 'pglite',
    location: dataDir,
    // One process owns a PGlite directory, so there is nothing to serialise against.
    async migrate () { await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER }) },
    async copyFrom (target, text) {
      await client.query(`copy ${target} from '/dev/blob'`, [], { blob: new Blob([text as Uint8Array<ArrayBuffer>]) })
    },
    async ping () { await client.query('select 1') },
    async close () {
      if (closed) return
      closed = true
      await client.close()
    }
  }
}

/** The SQLSTATE of a database error, looking through drizzle's DrizzleQueryError wrapper. */
export function sqlState (err: unknown): string | undefined {
  for (let e = err as { code?: unknown, cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code
  }
  return undefined
}

/** The underlying driver message (drizzle's own repeats the whole query and its parameters). */
export function dbErrorMessage (err: unknown): string {
  let e = err as { message?: string, cause?: unknown }
  while (e?.cause && typeof e.cause === 'object') e = e.cause as typeof e
  return e?.message ?? String(err)
}
