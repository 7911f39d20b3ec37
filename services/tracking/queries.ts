import { and, desc, eq, gte, like, lt, type SQL } from 'drizzle-orm'
import type { TrackingDb } from './database.ts'
import { requests, type RequestRow } from './schema.ts'

export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 1000

export interface RequestFilters {
  limit?: number
  /** An exact status (404) or a class written `4xx`. */
  status?: string
  /** An exact path, or a prefix ending in `*` (`/api/users/*`). */
  path?: string
  user?: string
  since?: Date
}

/** Tracked requests, newest first, for GET /admin/requests. Served by the indexes on created_at, (status|path|user_id, created_at). */
export async function listRequests (db: TrackingDb, filters: RequestFilters): Promise<RequestRow[]> {
  const where: SQL[] = []
  if (filters.status !== undefined) {
    const cls = /^([1-5])xx$/i.exec(filters.status)
    if (cls) {
      const floor = Number(cls[1]) * 100
      where.push(gte(requests.status_code, floor), lt(requests.status_code, floor + 100))
    } else {
      where.push(eq(requests.status_code, Number(filters.status)))
    }
  }
  if (filters.path !== undefined) {
    where.push(filters.path.endsWith('*') ? like(requests.path, escapeLike(filters.path.slice(0, -1)) + '%') : eq(requests.path, filters.path))
  }
  if (filters.user !== undefined) where.push(eq(requests.user_id, filters.user))
  if (filters.since !== undefined) where.push(gte(requests.created_at, filters.since))
  return db.select().from(requests)
    .where(where.length > 0 ? and(...where) : undefined)
    .orderBy(desc(requests.created_at), desc(requests.id))
    .limit(Math.min(filters.limit ?? DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT))
}

function escapeLike (text: string): string {
  return text.replace(/[\\%_]/g, c => '\\' + c)
}
