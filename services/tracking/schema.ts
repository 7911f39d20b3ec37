import { sql } from 'drizzle-orm'
import { bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, smallint, text, timestamp } from 'drizzle-orm/pg-core'

/** Header values as Node gives them: a string, or a list for repeated headers such as Set-Cookie. */
export type HeaderMap = Record<string, string | string[]>

/**
 * One row per tracked request (contract §6). Column keys are the snake_case names the admin API
 * returns, so a row goes out as it comes in. Indexes serve GET /admin/requests (newest first,
 * optionally by status, path or user) and the retention job (created_at). The status and user
 * indexes are partial: they hold only the rows they help find. Errors and signed-in users are the
 * needles; the 2xx and anonymous majority is found fast enough walking created_at newest first,
 * and does not pay two more index inserts per row (measured: the four full indexes were about 40 %
 * of PostgreSQL's CPU per COPYed row).
 */
export const requests = pgTable('requests', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  request_id: text('request_id').notNull(),
  created_at: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().default(sql`now()`),
  method: text('method').notNull(),
  path: text('path').notNull(),
  query: text('query'),
  route: text('route').notNull(),
  service: text('service').notNull(),
  status_code: smallint('status_code').notNull(),
  duration_ms: doublePrecision('duration_ms').notNull(),
  /** From the handler's call to the upstream until its response headers (or its failure). */
  upstream_ms: doublePrecision('upstream_ms'),
  ip: text('ip'),
  user_id: text('user_id'),
  tier: text('tier'),
  user_agent: text('user_agent'),
  /** X-Cache: HIT, MISS or BYPASS on cacheable routes. */
  cache_status: text('cache_status'),
  /** `limited` (429), `allowed` (a limited route let it through), null on unlimited routes. */
  rate_limit: text('rate_limit'),
  request_headers: jsonb('request_headers').$type<HeaderMap>().notNull(),
  request_body: text('request_body'),
  request_body_truncated: boolean('request_body_truncated').notNull().default(false),
  bytes_in: integer('bytes_in').notNull().default(0),
  response_headers: jsonb('response_headers').$type<HeaderMap>().notNull(),
  response_body: text('response_body'),
  response_body_truncated: boolean('response_body_truncated').notNull().default(false),
  bytes_out: integer('bytes_out').notNull().default(0),
  /** `CODE: message` of the error the request ended with, if any. */
  error: text('error')
}, (t) => [
  index('requests_created_at_idx').on(t.created_at.desc()),
  index('requests_status_created_at_idx').on(t.status_code, t.created_at.desc()).where(sql`${t.status_code} >= 400`),
  index('requests_path_created_at_idx').on(t.path, t.created_at.desc()),
  index('requests_user_created_at_idx').on(t.user_id, t.created_at.desc()).where(sql`${t.user_id} is not null`)
])

export type RequestRow = typeof requests.$inferSelect
export type NewRequestRow = typeof requests.$inferInsert
