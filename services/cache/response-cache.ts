import { decodeEntry, encodeEntry, type CacheEntry } from './entry.ts'
import type { CacheStore } from './types.ts'

/** After a store failure, requests BYPASS without touching the store for this long; then one probes. */
export const STORE_RETRY_MS = 1000

export interface ResponseCacheEvents {
  /** A store operation failed; `outageStarted` is true for the first failure of an outage. */
  storeFailed (err: unknown, outageStarted: boolean): void
  /** The first success after an outage. */
  storeRecovered (): void
}

/** What a fill's waiters get when its request went away before an answer: one of them fetches again. */
export const REFETCH = Symbol('refetch')
export type FillResult = CacheEntry | null | typeof REFETCH

/**
 * One upstream request in flight for a key; concurrent misses of that key wait on `promise`: the
 * entry, null when the response cannot be shared (each waiter goes upstream itself), or REFETCH
 * when the fetching request was aborted (one waiter becomes the next fetcher).
 */
export class Fill {
  readonly promise: Promise<FillResult>
  /** When the upstream request began (ms): purges at or after it keep the response out of the store. */
  readonly since = Date.now()
  settled = false
  private resolvePromise!: (result: FillResult) => void

  constructor (readonly key: string, readonly lockToken: string | null) {
    this.promise = new Promise(resolve => { this.resolvePromise = resolve })
  }

  resolve (result: FillResult): void {
    this.settled = true
    this.resolvePromise(result)
  }
}

/**
 * The cache's logic above a store, with no Fastify in it: concurrent lookups of one key share one
 * store read, concurrent misses of one key share one fill (one upstream request), and a store that
 * fails is left alone for STORE_RETRY_MS before one request probes it again (so an outage costs
 * each request nothing, and recovery needs no timer).
 */
export class ResponseCache {
  private readonly lookups = new Map<string, Promise<CacheEntry | null>>()
  private readonly fills = new Map<string, Fill>()
  private down = false
  private retryAt = 0

  constructor (readonly store: CacheStore, private readonly events: ResponseCacheEvents) {}

  /** False while the store is considered down (requests BYPASS); true for the one probe per STORE_RETRY_MS. */
  available (): boolean {
    if (!this.down) return true
    const now = Date.now()
    if (now < this.retryAt) return false
    this.retryAt = now + STORE_RETRY_MS
    return true
  }

  get storeDown (): boolean { return this.down }

  /** The entry for `key` (undecodable bytes count as absent); rejects when the store fails. */
  lookup (key: string): Promise<CacheEntry | null> {
    let pending = this.lookups.get(key)
    if (pending === undefined) {
      pending = this.store.get(key).then(
        (buf) => {
          this.lookups.delete(key)
          this.succeeded()
          return buf === null ? null : decodeEntry(buf)
        },
        (err: unknown) => {
          this.lookups.delete(key)
          this.failed(err)
          throw err
        })
      this.lookups.set(key, pending)
    }
    return pending
  }

  pendingFill (key: string): Fill | undefined {
    return this.fills.get(key)
  }

  beginFill (key: string, lockToken: string | null = null): Fill {
    const fill = new Fill(key, lockToken)
    this.fills.set(key, fill)
    return fill
  }

  /** Hands the entry to the waiting misses at once, then stores it; the fill ends when the write has. */
  completeFill (fill: Fill, entry: CacheEntry, ttlMs: number, indexes: string[]): void {
    if (fill.settled) return
    fill.resolve(entry)
    this.store.set(fill.key, encodeEntry(entry), ttlMs, indexes, fill.since).then(
      () => { this.succeeded(); this.endFill(fill) },
      (err: unknown) => { this.failed(err); this.endFill(fill) })
  }

  /**
   * Nothing to store. Not shareable (status, Set-Cookie, too large): the waiting misses go upstream
   * themselves. `refetch` (the request or the upstream went away): one of them fetches again.
   */
  abandonFill (fill: Fill, refetch = false): void {
    if (fill.settled) return
    fill.resolve(refetch ? REFETCH : null)
    this.endFill(fill)
  }

  async lock (key: string, ttlMs: number): Promise<string | null> {
    try {
      const token = await this.store.lock(key, ttlMs)
      this.succeeded()
      return token
    } catch (err) {
      this.failed(err)
      throw err
    }
  }

  async purge (indexes: string[]): Promise<number> {
    try {
      const purged = await this.store.purge(indexes)
      this.succeeded()
      return purged
    } catch (err) {
      this.failed(err)
      throw err
    }
  }

  failed (err: unknown): void {
    const started = !this.down
    this.down = true
    this.retryAt = Date.now() + STORE_RETRY_MS
    this.events.storeFailed(err, started)
  }

  private succeeded (): void {
    if (!this.down) return
    this.down = false
    this.events.storeRecovered()
  }

  private endFill (fill: Fill): void {
    if (this.fills.get(fill.key) === fill) this.fills.delete(fill.key)
    if (fill.lockToken !== null) this.store.unlock(fill.key, fill.lockToken).catch((err: unknown) => this.failed(err))
  }
}
