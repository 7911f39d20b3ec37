import { getTableColumns, sql, is, SQL, type AnyColumn } from 'drizzle-orm'
import type { TrackingDb } from './database.ts'
import { requests, type NewRequestRow } from './schema.ts'

/**
 * The writer's multi-row INSERT, as one statement with one parameter whatever the batch size:
 * `INSERT INTO requests (...) SELECT ... FROM json_populate_recordset(null::requests, $1)`, the
 * batch being a JSON array of rows. drizzle's `insert().values(rows)` builds a SQL chunk per value
 * (26 per row) and profiled as the gateway's largest CPU cost with tracking on; an array per column
 * (unnest) still cost ~10 µs a row in node-postgres' array escaping. One JSON.stringify (native)
 * costs a fraction, and PostgreSQL parses it faster than either. Column names come from the
 * drizzle schema, so the statement cannot drift from the migrations; both drivers run it.
 */
const COLUMNS = Object.entries(getTableColumns(requests))
  .filter(([key]) => key !== 'id')
  .map(([key, column]) => ({ key, name: (column as AnyColumn).name, fallback: defaultOf(column as AnyColumn) }))

const NAMES = COLUMNS.map(c => `"${c.name}"`).join(', ')
const HEAD = sql.raw(`insert into requests (${NAMES}) select ${NAMES} from json_populate_recordset(null::requests, `)
const TAIL = sql.raw('::json)')
const WITH_DEFAULTS = COLUMNS.filter(c => c.fallback !== undefined)

export async function insertRows (db: TrackingDb, rows: NewRequestRow[]): Promise<void> {
  // json_populate_recordset leaves absent keys null, so defaults the database would fill are filled here.
  for (const row of rows) {
    for (const { key, fallback } of WITH_DEFAULTS) {
      if ((row as Record<string, unknown>)[key] == null) (row as Record<string, unknown>)[key] = fallback!()
    }
  }
  await db.execute(sql.join([HEAD, sql.param(JSON.stringify(rows)), TAIL]))
}

function defaultOf (column: AnyColumn): (() => unknown) | undefined {
  if (!column.hasDefault) return undefined
  const value = column.default
  if (is(value, SQL)) return column.name === 'created_at' ? () => new Date() : undefined
  return () => value
}
