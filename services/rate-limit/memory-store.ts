import type { RateLimitAlgorithm, RateLimitHit, RateLimitStore } from './types.ts'
import { gcra } from './gcra.ts'

const DEFAULT_MAX_KEYS = 100_000

export interface MemoryRateLimitStoreOptions {
  algorithm: RateLimitAlgorithm
  /** Distinct clients×routes kept; the oldest window is dropped beyond it, so a flood of keys cannot grow the heap. */
  maxKeys?: number
  /** Monotonic clock in ms (tests pass a fake one). */
  now?: () => number
}

interface Entry {
  /** fixed-window: requests counted in the window; gcra: unused. */
  count: number
  /** fixed-window: when the window ends (ms); gcra: the TAT (µs). */
  until: number
}

/**
 * Rate-limit state in this process: exact (JavaScript runs one hit at a time) and cheap, but each
 * instance counts alone. A Map in insertion order; a new window re-inserts its key, so the first
 * entry is always the oldest window and is the one dropped when the map is full. No timer runs.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly algorithm: RateLimitAlgorithm
  private readonly entries = new Map<string, Entry>()
  private readonly maxKeys: number
  private readonly now: () => number

  constructor (options: MemoryRateLimitStoreOptions) {
    this.algorithm = options.algorithm
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
    this.now = options.now ?? (() => performance.now())
  }

  async hit (key: string, windowMs: number, max: number): Promise<RateLimitHit> {
    return this.algorithm === 'gcra' ? this.gcra(key, windowMs, max) : this.fixed(key, windowMs, max)
  }

  private fixed (key: string, windowMs: number, max: number): RateLimitHit {
    const now = this.now()
    const entry = this.entries.get(key)
    if (entry === undefined || entry.until <= now) {
      this.insert(key, { count: 1, until: now + windowMs })
      return { current: 1, ttl: windowMs }
    }
    // Refused requests are not counted: the count stays at max + 1 at most.
    if (entry.count <= max) entry.count++
    return { current: entry.count, ttl: Math.ceil(entry.until - now) }
  }

  private gcra (key: string, windowMs: number, max: number): RateLimitHit {
    const now = Math.round(this.now() * 1000)
    const entry = this.entries.get(key)
    const step = gcra(now, entry === undefined ? null : entry.until, windowMs, max)
    if (step.tat !== null) {
      // A full bucket starts afresh, like a new window: re-inserted, so eviction stays oldest-first.
      if (entry === undefined || entry.until < now) this.insert(key, { count: 0, until: step.tat })
      else entry.until = step.tat
    }
    return step.hit
  }

  private insert (key: string, entry: Entry): void {
    this.entries.delete(key)
    this.entries.set(key, entry)
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value as string)
  }

  /** How many keys are held (for tests and /health). */
  get size (): number {
    return this.entries.size
  }

  async close (): Promise<void> {
    this.entries.clear()
  }
}
