import { getTableColumns } from 'drizzle-orm'
import type { TrackingDatabase } from './database.ts'
import { requests } from './schema.ts'
import { LINE_COLUMNS, requestLine } from './copy-line.ts'
import type { TrackedRequest } from './record.ts'

/**
 * The writer's multi-row write: one `COPY requests (...) FROM STDIN` per batch, in PostgreSQL's
 * text format (copy-line.ts). COPY is PostgreSQL's bulk path: measured here it costs the server
 * about half the CPU per row of the INSERT ... SELECT FROM json_populate_recordset it replaced.
 * The SQL column names come from the drizzle schema, so the statement cannot drift from the
 * migrations; both drivers run it (database.ts `copyFrom`).
 */
const SCHEMA_COLUMNS = getTableColumns(requests)
const COPY_TARGET = `requests (${LINE_COLUMNS.map(key => `"${SCHEMA_COLUMNS[key].name}"`).join(', ')})`

/** A tracked request as its COPY line, UTF-8 in a Buffer: what the tracking queue holds. */
export function encodeRequest (request: TrackedRequest): Buffer {
  return Buffer.from(requestLine(request))
}

/** One COPY of lines encoded by `encodeRequest`. */
export async function insertLines (database: TrackingDatabase, lines: Buffer[]): Promise<void> {
  await database.copyFrom(COPY_TARGET, lines.length === 1 ? lines[0] : Buffer.concat(lines))
}
