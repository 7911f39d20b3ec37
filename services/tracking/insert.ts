import { getTableColumns, sql, is, SQL, type AnyColumn } from 'drizzle-orm'
import type { TrackingDb } from './database.ts'
import { requests, type NewRequestRow } from './schema.ts'

/**
 * The writer's multi-row INSERT, as one statement whatever the batch size:
 * `INSERT INTO requests (...) SELECT * FROM unnest($1::text[], $2::timestamptz[], ...)`, one array
 * parameter per column. drizzle's `insert().values(rows)` builds a SQL chunk per value (26 per
 * row) and measured as the gateway's largest CPU cost with tracking on; this builds 26 arrays.
 * Column names, types and value mapping still come from the drizzle schema, so the two cannot
 * drift apart, and both drivers run the same statement.
 */
const COLUMNS = Object.entries(getTableColumns(requests))
  .filter(([key]) => key !== 'id')
  .map(([key, column]) => ({ key: key as keyof NewRequestRow, column: column as AnyColumn, fallback: defaultOf(column as AnyColumn) }))

const HEAD = sql.raw(`insert into requests (${COLUMNS.map(c => `"${c.column.name}"`).join(', ')}) select * from unnest(`)
const CASTS = COLUMNS.map(c => sql.raw(`::${c.column.getSQLType()}[]`))

export async function insertRows (db: TrackingDb, rows: NewRequestRow[]): Promise<void> {
  const params: SQL[] = []
  for (let i = 0; i < COLUMNS.length; i++) {
    const { key, column, fallback } = COLUMNS[i]
    const values = new Array<unknown>(rows.length)
    for (let r = 0; r < rows.length; r++) {
      const value = rows[r][key] ?? fallback?.()
      values[r] = value === null || value === undefined ? null : column.mapToDriverValue(value)
    }
    if (i > 0) params.push(sql.raw(', '))
    params.push(sql`${sql.param(values)}`, CASTS[i])
  }
  await db.execute(sql.join([HEAD, ...params, sql.raw(')')]))
}

// unnest() passes nulls through, so defaults the database would fill are filled here.
function defaultOf (column: AnyColumn): (() => unknown) | undefined {
  if (!column.hasDefault) return undefined
  const value = column.default
  if (is(value, SQL)) return column.name === 'created_at' ? () => new Date() : undefined
  return () => value
}
