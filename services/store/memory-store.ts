import type { KeyValueStore } from './types.ts'

const DEFAULT_MAX_ENTRIES = 100_000

interface Entry { value: Buffer, expiresAt: number }

/**
 * In-process store: a Map in insertion order used as an LRU (a read re-inserts), bounded by entry
 * count so a flood of distinct keys cannot grow the heap without limit. Expiry is checked on read,
 * so no timer runs.
 */
export class MemoryStore implements KeyValueStore {
  private readonly entries: Map<string, Entry>
  private readonly prefix: string
  private readonly maxEntries: number

  constructor (options: { maxEntries?: number, prefix?: string, entries?: Map<string, Entry> } = {}) {
    this.entries = options.entries ?? new Map()
    this.prefix = options.prefix ?? ''
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
  }

  async get (key: string): Promise<Buffer | null> {
    const full = this.prefix + key
    const entry = this.entries.get(full)
    if (entry === undefined) return null
    if (entry.expiresAt !== 0 && entry.expiresAt <= Date.now()) {
      this.entries.delete(full)
      return null
    }
    this.entries.delete(full)
    this.entries.set(full, entry)
    return entry.value
  }

  async set (key: string, value: Buffer | string, ttlMs: number): Promise<void> {
    const full = this.prefix + key
    this.entries.delete(full)
    this.entries.set(full, { value: Buffer.from(value), expiresAt: ttlMs > 0 ? Date.now() + ttlMs : 0 })
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string)
    }
  }

  async delete (key: string): Promise<boolean> {
    return this.entries.delete(this.prefix + key)
  }

  child (namespace: string): KeyValueStore {
    return new MemoryStore({ entries: this.entries, prefix: `${this.prefix}${namespace}:`, maxEntries: this.maxEntries })
  }

  async close (): Promise<void> {
    this.entries.clear()
  }
}
