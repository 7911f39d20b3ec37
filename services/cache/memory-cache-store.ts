import { randomUUID } from 'node:crypto'
import { PURGE_MARKER_TTL_MS, type CacheStore } from './types.ts'

export const DEFAULT_MAX_MEMORY = 64 * 1024 * 1024
// Map entries, index set members and object headers, roughly, so many tiny entries still count.
const ENTRY_OVERHEAD_BYTES = 200
const MAX_PURGE_MARKERS = 10_000

interface Entry { value: Buffer, expiresAt: number, indexes: string[], size: number }

/**
 * The in-process cache store: a Map in recency order used as an LRU (a read re-inserts) bounded by
 * bytes (`maxBytes`, CACHE_MAX_MEMORY), with the same path indexes as Redis so a purge touches only
 * the entries it removes. Expiry is checked on read and on eviction, so no timer runs.
 */
export class MemoryCacheStore implements CacheStore {
  private readonly entries = new Map<string, Entry>()
  private readonly indexes = new Map<string, Set<string>>()
  private readonly purgedAt = new Map<string, number>()
  private readonly locks = new Map<string, { token: string, expiresAt: number }>()
  private bytes = 0
  private readonly maxBytes: number

  constructor (options: { maxBytes?: number } = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_MEMORY
  }

  /** Bytes currently accounted for (entries, keys and overhead). */
  get usedBytes (): number { return this.bytes }

  async get (key: string): Promise<Buffer | null> {
    const entry = this.entries.get(key)
    if (entry === undefined) return null
    if (entry.expiresAt <= Date.now()) {
      this.remove(key, entry)
      return null
    }
    this.entries.delete(key)
    this.entries.set(key, entry)
    return entry.value
  }

  async set (key: string, value: Buffer, ttlMs: number, indexes: string[], since: number): Promise<boolean> {
    for (const index of indexes) {
      const purged = this.purgedAt.get(index)
      if (purged !== undefined && purged >= since) return false
    }
    const size = value.length + key.length * 2 + ENTRY_OVERHEAD_BYTES
    if (size > this.maxBytes || ttlMs <= 0) return false
    const old = this.entries.get(key)
    if (old !== undefined) this.remove(key, old)
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs, indexes, size })
    this.bytes += size
    for (const index of indexes) {
      let members = this.indexes.get(index)
      if (members === undefined) this.indexes.set(index, members = new Set())
      members.add(key)
    }
    while (this.bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.entries.entries().next().value as [string, Entry]
      this.remove(oldestKey, oldest)
    }
    return true
  }

  async purge (indexes: string[]): Promise<number> {
    const now = Date.now()
    let purged = 0
    for (const index of indexes) {
      const members = this.indexes.get(index)
      if (members !== undefined) {
        for (const key of members) {
          const entry = this.entries.get(key)
          if (entry === undefined) continue
          if (entry.expiresAt > now) purged++
          this.remove(key, entry)
        }
      }
      this.purgedAt.set(index, now)
    }
    if (this.purgedAt.size > MAX_PURGE_MARKERS) {
      for (const [index, at] of this.purgedAt) if (at < now - PURGE_MARKER_TTL_MS) this.purgedAt.delete(index)
    }
    return purged
  }

  async lock (key: string, ttlMs: number): Promise<string | null> {
    const held = this.locks.get(key)
    if (held !== undefined && held.expiresAt > Date.now()) return null
    const token = randomUUID()
    this.locks.set(key, { token, expiresAt: Date.now() + ttlMs })
    return token
  }

  async unlock (key: string, token: string): Promise<void> {
    if (this.locks.get(key)?.token === token) this.locks.delete(key)
  }

  async size (): Promise<number> {
    const now = Date.now()
    let live = 0
    for (const entry of this.entries.values()) if (entry.expiresAt > now) live++
    return live
  }

  async close (): Promise<void> {
    this.entries.clear()
    this.indexes.clear()
    this.purgedAt.clear()
    this.locks.clear()
    this.bytes = 0
  }

  private remove (key: string, entry: Entry): void {
    this.entries.delete(key)
    this.bytes -= entry.size
    for (const index of entry.indexes) {
      const members = this.indexes.get(index)
      if (members === undefined) continue
      members.delete(key)
      if (members.size === 0) this.indexes.delete(index)
    }
  }
}
