import { EventEmitter } from 'node:events'
import { RowQueue } from './row-queue.ts'
import { dbErrorMessage, sqlState } from './database.ts'

export const DEFAULT_RETRY_MIN_MS = 100
export const DEFAULT_RETRY_MAX_MS = 5000
export const DEFAULT_CLOSE_TIMEOUT_MS = 5000

export interface WriterLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface WriterOptions<T, R> {
  /** One multi-row INSERT. Rejects when the database cannot take it. */
  insert (rows: R[]): Promise<unknown>
  /**
   * Turns an item into the row that is queued, when it is enqueued: the queue then holds only
   * what will be written (in production a COPY line in a Buffer, outside the JS heap), not the
   * request's objects, which would otherwise live on, and be copied by the garbage collector,
   * until their batch is written, or for the whole of an outage.
   */
  prepare (item: T): R
  queueMax: number
  /** Bound of the queue's memory, bytes (with `sizeOf`); the oldest rows go first past it. */
  queueMaxBytes?: number
  /** Bytes a row holds while queued. */
  sizeOf?: (row: R) => number
  /** What names a row in a log line (its request id). */
  describe?: (row: R) => string
  batchSize: number
  flushInterval: number
  log: WriterLog
  retryMinMs?: number
  retryMaxMs?: number
}

export interface WriterStats {
  queued: number
  written: number
  dropped: number
  failed: number
}

/**
 * The tracking queue and its writer. `enqueue` is all the request path does: it builds the row
 * (`prepare`) and queues it, O(1) in the queue, never awaiting. Rows are written by multi-row
 * inserts when a batch is full or every `flushInterval`. When the database fails, the batch stays
 * and is retried with exponential backoff; writes resume by themselves. The queue is bounded, by
 * rows (`queueMax`) and by bytes (`queueMaxBytes`, as `sizeOf` counts them): past either the
 * oldest are dropped, counted, and logged once per episode. Rows the database rejects as data
 * (SQLSTATE class 22/23) are retried one by one, and only the bad ones are counted as failed.
 *
 * Events: 'written' (n), 'dropped' (n), 'failed' (n), 'idle' (queue empty after a write).
 */
export class TrackingWriter<T, R = T> extends EventEmitter {
  private readonly queue: RowQueue<R>
  /** `sizeOf` summed over the queue. */
  private queuedBytes = 0
  /** The oldest rows, being written or waiting for a retry; and `sizeOf` summed over them. */
  private batch: R[] | null = null
  private batchBytes = 0
  private readonly maxBytes: number
  private readonly sizeOf: (row: R) => number
  private inFlight = false
  private draining: Promise<void> | null = null
  /** The running drain writes everything queued (flush, close, a retry), not only full batches. */
  private drainAll = false
  private drainScheduled = false
  private readonly interval: NodeJS.Timeout
  private retryTimer: NodeJS.Timeout | null = null
  private failures = 0
  private outageStartedAt = 0
  private droppedInEpisode = 0
  private closed = false
  private written = 0
  private dropped = 0
  private failed = 0
  private readonly retryMin: number
  private readonly retryMax: number

  constructor (private readonly opts: WriterOptions<T, R>) {
    super()
    if (opts.batchSize > opts.queueMax) throw new Error(`tracking batch size (${opts.batchSize}) must not exceed the queue bound (${opts.queueMax})`)
    this.queue = new RowQueue<R>(opts.queueMax)
    this.maxBytes = opts.queueMaxBytes ?? Infinity
    this.sizeOf = opts.sizeOf ?? (() => 0)
    this.retryMin = opts.retryMinMs ?? DEFAULT_RETRY_MIN_MS
    this.retryMax = opts.retryMaxMs ?? DEFAULT_RETRY_MAX_MS
    this.interval = setInterval(() => this.kick(), opts.flushInterval)
    this.interval.unref()
    this.drainNow = this.drainNow.bind(this)
  }

  stats (): WriterStats {
    return { queued: this.queued(), written: this.written, dropped: this.dropped, failed: this.failed }
  }

  /** Bytes of the queued rows as `sizeOf` counts them (the queue, and a batch being written or awaiting a retry). */
  queuedBytesEstimate (): number {
    return this.queuedBytes + this.batchBytes
  }

  queued (): number {
    return this.queue.length + (this.batch?.length ?? 0)
  }

  /** Queues one item. Never throws, never waits; when a bound is reached the oldest rows go. */
  enqueue (item: T): void {
    if (this.closed) {
      // After the shutdown flush nothing would write it: counted, not silently kept.
      this.dropped++
      this.emit('dropped', 1)
      this.opts.log.warn({}, 'tracking: a request finished after the shutdown flush; its row is dropped')
      return
    }
    let row: R
    try {
      row = this.opts.prepare(item)
    } catch (err) {
      this.opts.log.error({ err }, 'tracking: could not build a row')
      this.failed++
      this.emit('failed', 1)
      return
    }
    const size = this.sizeOf(row)
    if (size > this.maxBytes) {
      // Alone over the bound: dropping the whole queue would not make it fit.
      this.noteDropped(1)
      return
    }
    let evicted = 0
    while (this.overBound(size) && this.evictOldest()) evicted++
    if (this.overBound(size)) {
      // No room even so: the rest is being written right now.
      this.noteDropped(evicted + 1)
      return
    }
    if (evicted > 0) this.noteDropped(evicted)
    this.queue.push(row)
    this.queuedBytes += size
    if (this.queue.length >= this.opts.batchSize) this.kick()
  }

  private overBound (incoming: number): boolean {
    return this.queued() >= this.opts.queueMax || this.queuedBytes + this.batchBytes + incoming > this.maxBytes
  }

  // The oldest row not being written: the head of a batch waiting for a retry, else of the queue.
  private evictOldest (): boolean {
    if (this.batch !== null && !this.inFlight && this.batch.length > 0) {
      this.batchBytes -= this.sizeOf(this.batch.shift()!)
      if (this.batch.length === 0) this.clearBatch()
      return true
    }
    if (this.queue.length > 0) {
      this.queuedBytes -= this.sizeOf(this.queue.shift()!)
      return true
    }
    return false
  }

  private clearBatch (): void {
    this.batch = null
    this.batchBytes = 0
  }

  /** Writes everything queued now; resolves when the queue is empty or a write failed. */
  async flush (): Promise<void> {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer)
      this.retryTimer = null
    }
    await this.drain(true)
  }

  /**
   * Stops the timers and writes what is queued, retrying failures until `timeoutMs` has passed.
   * Rows still unwritten then are counted as dropped and logged: nothing is lost silently.
   */
  async close (timeoutMs = DEFAULT_CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.interval)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const deadline = Date.now() + timeoutMs
    let pause = this.retryMin
    while (this.queued() > 0) {
      await this.drain(true)
      if (this.queued() === 0 || Date.now() + pause > deadline) break
      await new Promise(resolve => setTimeout(resolve, pause).unref())
      pause = Math.min(pause * 2, this.retryMax)
    }
    const left = this.queued()
    if (left > 0) {
      this.opts.log.error({ rows: left }, 'tracking: rows could not be written before shutdown and are lost')
      this.queue.take(left)
      this.queuedBytes = 0
      this.clearBatch()
      this.dropped += left
      this.emit('dropped', left)
    }
  }

  // A write is due: start one unless one runs or a retry is pending. setImmediate keeps row
  // preparation off the request hook that noticed a full batch.
  private kick (): void {
    if (this.drainScheduled || this.draining !== null || this.retryTimer !== null || this.queued() === 0) return
    this.drainScheduled = true
    setImmediate(this.drainNow)
  }

  private drainNow (): void {
    this.drainScheduled = false
    // A write that failed since the kick waits for its retry.
    if (this.retryTimer === null) void this.drain(false)
  }

  private drain (all: boolean): Promise<void> {
    if (all) this.drainAll = true
    this.draining ??= this.writeAll().finally(() => {
      this.draining = null
      this.drainAll = false
    })
    return this.draining
  }

  /**
   * Writes the pending batch or what is queued, then goes on only while a full batch waits (or
   * everything is to go). Rows that arrived during a write wait for the interval or a full batch:
   * writing them straight away made batches of tens of rows under load, each COPY paying its
   * round trip and commit on both sides (measured: about 45 rows per write at 7,500 requests/s).
   */
  private async writeAll (): Promise<void> {
    for (let first = true; this.queued() > 0; first = false) {
      if (!first && !this.drainAll && this.batch === null && this.queue.length < this.opts.batchSize) return
      if (this.batch === null) this.takeBatch(this.opts.batchSize)
      const rows = this.batch!
      this.inFlight = true
      try {
        await this.opts.insert(rows)
        this.clearBatch()
        this.recorded(rows.length)
      } catch (err) {
        const state = sqlState(err)
        if (state !== undefined && (state.startsWith('22') || state.startsWith('23'))) {
          this.clearBatch()
          await this.insertOneByOne(rows)
          continue
        }
        this.scheduleRetry(err)
        return
      } finally {
        this.inFlight = false
      }
    }
    this.emit('idle')
  }

  // Takes up to n rows off the queue as the current batch.
  private takeBatch (n: number): void {
    this.batch = this.queue.take(n)
    let bytes = 0
    for (const row of this.batch) bytes += this.sizeOf(row)
    this.queuedBytes -= bytes
    this.batchBytes = bytes
  }

  private async insertOneByOne (rows: R[]): Promise<void> {
    for (const row of rows) {
      try {
        await this.opts.insert([row])
        this.recorded(1)
      } catch (err) {
        this.opts.log.warn({ requestId: this.opts.describe?.(row), error: dbErrorMessage(err) }, 'tracking: the database rejected a row')
        this.failed++
        this.emit('failed', 1)
      }
    }
  }

  private recorded (n: number): void {
    this.written += n
    if (this.failures > 0) {
      this.opts.log.info({ failedAttempts: this.failures, outageMs: Date.now() - this.outageStartedAt, queued: this.queued() }, 'tracking: database writes resumed')
      this.failures = 0
    }
    if (this.droppedInEpisode > 0 && !this.overBound(0)) {
      this.opts.log.warn({ dropped: this.droppedInEpisode }, 'tracking: queue has room again; rows dropped while it was full')
      this.droppedInEpisode = 0
    }
    this.emit('written', n)
  }

  private noteDropped (n: number): void {
    if (this.droppedInEpisode === 0) {
      this.opts.log.warn({ queueMax: this.opts.queueMax, queueMaxBytes: this.maxBytes }, 'tracking: queue full, dropping the oldest rows until the database catches up')
    }
    this.droppedInEpisode += n
    this.dropped += n
    this.emit('dropped', n)
  }

  private scheduleRetry (err: unknown): void {
    if (this.failures === 0) {
      this.outageStartedAt = Date.now()
      this.opts.log.warn({ error: dbErrorMessage(err), queued: this.queued() }, 'tracking: database write failed; rows stay queued and are retried')
    }
    this.failures++
    if (this.closed) return
    const base = Math.min(this.retryMin * 2 ** Math.min(this.failures - 1, 16), this.retryMax)
    const delay = base * (0.8 + Math.random() * 0.4)
    // The retry writes the backlog whole: the outage held it back, not the batching.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      if (this.queued() > 0) void this.drain(true)
    }, delay)
    this.retryTimer.unref()
  }
}
