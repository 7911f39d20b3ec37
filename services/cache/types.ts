/**
 * Where the response cache keeps its entries. One interface, two implementations: in-process memory
 * (an LRU bounded by bytes, one instance) and Redis (every instance sharing it sees the same entries
 * and the same purges). Keys are the cache's logical keys (`GET /api/x?a=1...`); the store adds its
 * own prefix. Values are encoded entries (see entry.ts), bytes in and bytes out.
 *
 * Invalidation works on index names, not key patterns, so a purge never scans the keyspace:
 * every stored entry is indexed under its exact path (`p:/api/users/42`) and under each directory
 * above it (`d:/api/users/`, `d:/api/`, `d:/`); see patterns.ts.
 */
export interface CacheStore {
  /** The encoded entry, or null when absent or expired. Rejects when the store is unreachable. */
  get (key: string): Promise<Buffer | null>
  /**
   * Stores `value` for `ttlMs` and indexes it under `indexes`. Skips the write (resolves false) when
   * one of those indexes was purged at or after `since` (ms since the epoch): the response was
   * fetched before an invalidation and must not outlive it.
   */
  set (key: string, value: Buffer, ttlMs: number, indexes: string[], since: number): Promise<boolean>
  /** Deletes every entry indexed under any of `indexes`; resolves how many live entries went. */
  purge (indexes: string[]): Promise<number>
  /** Takes a short lock on `key` (one refresher across instances); a token, or null when taken. */
  lock (key: string, ttlMs: number): Promise<string | null>
  /** Releases a lock taken with `lock`, if it is still ours. */
  unlock (key: string, token: string): Promise<void>
  /** How many live entries the store holds (read at metrics scrape time). */
  size (): Promise<number>
  /** Releases what the store owns. */
  close (): Promise<void>
}

/** How long a purge marker lives: longer than any fill (upstream timeout + body) can take. */
export const PURGE_MARKER_TTL_MS = 10 * 60_000
