import { getTableColumns, is, SQL, type AnyColumn } from 'drizzle-orm'
import type { TrackingDatabase } from './database.ts'
import { requests, type NewRequestRow } from './schema.ts'

/**
 * The writer's multi-row write: one `COPY requests (...) FROM STDIN` per batch, in PostgreSQL's
 * text format (a line per row, tab-separated, `\N` for null). COPY is PostgreSQL's bulk path:
 * measured here it costs the server about half the CPU per row of the INSERT ... SELECT FROM
 * json_populate_recordset it replaced, and building the lines costs the gateway less than
 * JSON.stringify of the rows did. Columns and their encodings come from the drizzle schema, so
 * the statement cannot drift from the migrations; both drivers run it (database.ts `copyFrom`).
 */
const COLUMNS = Object.entries(getTableColumns(requests))
  .filter(([key]) => key !== 'id')
  .map(([key, column]) => ({ key, column: column as AnyColumn }))

/** `COPY requests ("request_id", ...) FROM <source>`: STDIN over the wire, a blob in PGlite. */
const COPY_TARGET = `requests (${COLUMNS.map(c => `"${c.column.name}"`).join(', ')})`

/** One row as its COPY line, UTF-8 in a Buffer: what the tracking queue holds. */
export function encodeRow (row: NewRequestRow): Buffer {
  return Buffer.from(copyLine(row))
}

/** One COPY of rows already encoded by `encodeRow`. */
export async function insertLines (database: TrackingDatabase, lines: Buffer[]): Promise<void> {
  await database.copyFrom(COPY_TARGET, lines.length === 1 ? lines[0] : Buffer.concat(lines))
}

export async function insertRows (database: TrackingDatabase, rows: NewRequestRow[]): Promise<void> {
  await insertLines(database, rows.map(encodeRow))
}

// In COPY text a backslash, newline, carriage return and tab must be escaped; PostgreSQL text
// cannot hold NUL at all, so it becomes U+FFFD.
const SPECIAL = /[\\\n\r\t\0]/
const SPECIALS = /[\\\n\r\t\0]/g
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\uFFFD' }
const escapeChar = (c: string): string => ESCAPES[c]

function copyEscape (text: string): string {
  return SPECIAL.test(text) ? text.replace(SPECIALS, escapeChar) : text
}

// Rows of a batch fall within a few seconds: the date and time up to the second are formatted
// once per second, not by a toISOString per row.
let cachedSecond = NaN
let cachedPrefix = ''

/** `new Date(ms).toISOString()`, for the timestamps of this era (4-digit years). */
export function isoTimestamp (ms: number): string {
  const time = Math.trunc(ms) // as Date's time value
  const second = Math.floor(time / 1000)
  if (second !== cachedSecond) {
    if (!Number.isFinite(second)) return new Date(ms).toISOString()
    cachedSecond = second
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20)
  }
  const millis = time - second * 1000
  return cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
}

/**
 * One row as a COPY text line, ending in a newline. The function is generated once from the
 * schema's columns: a property read and an encoding expression per column, in column order. The
 * loop over column descriptors it replaced made every read megamorphic (one call site for 27
 * keys) and called a closure per value; at the gateway's row rate that was a visible share of
 * tracking's CPU. The generated source holds only the schema's own keys and SQL names.
 */
export const copyLine = compileLine()

function compileLine (): (row: NewRequestRow) => string {
  const parts = COLUMNS.map(({ key, column }, i) => {
    const value = `r[${JSON.stringify(key)}]`
    const fallback = defaultOf(column)
    const missing = fallback === undefined ? "'\\\\N'" : fallback
    const separator = i === COLUMNS.length - 1 ? "'\\n'" : "'\\t'"
    return `(${value} == null ? ${missing} : ${encoderOf(column, value)}) + ${separator}`
  })
  const source = `return function copyLine (r) {\n  return ${parts.join(' +\n    ')}\n}`
  return new Function('copyEscape', 'isoTimestamp', source)(copyEscape, isoTimestamp) as (row: NewRequestRow) => string
}

function encoderOf (column: AnyColumn, value: string): string {
  switch (column.dataType) {
    case 'date': return `isoTimestamp(${value}.getTime())`
    case 'boolean': return `(${value} ? 't' : 'f')`
    case 'number': return `String(${value})`
    case 'json': return `copyEscape(JSON.stringify(${value}))`
    default: return `copyEscape(String(${value}))`
  }
}

// COPY writes every listed column: a value left out gets the column's default, as an INSERT
// would have given it; as a source expression, encoded.
function defaultOf (column: AnyColumn): string | undefined {
  if (!column.hasDefault) return undefined
  const value = column.default
  if (is(value, SQL)) return column.name === 'created_at' ? 'isoTimestamp(Date.now())' : undefined
  if (typeof value === 'boolean') return value ? "'t'" : "'f'"
  if (typeof value === 'number') return `'${value}'`
  throw new Error(`tracking: no COPY encoding for the default of column ${column.name}`)
}
