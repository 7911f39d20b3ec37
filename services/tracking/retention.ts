import { sql } from 'drizzle-orm'
import type { TrackingDb } from './database.ts'
import { dbErrorMessage } from './database.ts'
import type { WriterLog } from './writer.ts'

// Deleting in batches keeps each transaction (and its locks and WAL burst) short.
export const RETENTION_BATCH = 5000
// The first run waits a little so start-up is not slowed; then hourly, or more often for short retentions.
const FIRST_RUN_DELAY_MS = 30_000
const MAX_INTERVAL_MS = 3_600_000
// Held per batch by whichever instance deletes; the others skip that run.
export const RETENTION_LOCK_KEY = 0x52657465 // 'Rete'

export interface RetentionResult {
  deleted: number
  /** Another instance held the lock: nothing was done. */
  skipped: boolean
}

/**
 * Deletes rows older than the retention period, periodically and in batches. Each batch runs in a
 * transaction holding `pg_try_advisory_xact_lock`, so instances sharing a database never delete
 * side by side: an instance that finds the lock taken leaves that run to the other.
 */
export interface RetentionOptions {
  /** Rows older than this many milliseconds are deleted. */
  retentionMs: number
  log: WriterLog
  /** Between runs; default a tenth of the retention, at most an hour. */
  intervalMs?: number
  batchSize?: number
}

export class RetentionJob {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<RetentionResult> | null = null
  private stopped = false
  private readonly retentionMs: number
  private readonly log: WriterLog
  private readonly batchSize: number
  readonly intervalMs: number

  constructor (private readonly db: TrackingDb, opts: RetentionOptions) {
    this.retentionMs = opts.retentionMs
    this.log = opts.log
    this.batchSize = opts.batchSize ?? RETENTION_BATCH
    this.intervalMs = opts.intervalMs ?? Math.max(1000, Math.min(MAX_INTERVAL_MS, Math.floor(opts.retentionMs / 10)))
  }

  start (firstDelayMs = Math.min(FIRST_RUN_DELAY_MS, this.intervalMs)): void {
    this.schedule(firstDelayMs)
  }

  /** One pass: batches until no expired row is left. */
  async runOnce (now = new Date()): Promise<RetentionResult> {
    this.running ??= this.deleteExpired(new Date(now.getTime() - this.retentionMs)).finally(() => { this.running = null })
    return this.running
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    await this.running?.catch(() => {})
  }

  private schedule (delay: number): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.runOnce()
        .then(({ deleted }) => { if (deleted > 0) this.log.info({ deleted }, 'tracking: expired rows deleted') })
        .catch((err) => { this.log.warn({ error: dbErrorMessage(err) }, 'tracking: retention run failed; retrying next interval') })
        .finally(() => this.schedule(this.intervalMs))
    }, delay)
    this.timer.unref()
  }

  private async deleteExpired (cutoff: Date): Promise<RetentionResult> {
    let deleted = 0
    for (;;) {
      const batch = await this.db.transaction(async (tx) => {
        const lock = await tx.execute<{ locked: boolean }>(sql`select pg_try_advisory_xact_lock(${RETENTION_LOCK_KEY}) as locked`)
        if (!lock.rows[0]?.locked) return -1
        const result = await tx.execute<{ id: number }>(sql`
          delete from requests where id in (
            select id from requests where created_at < ${cutoff.toISOString()}::timestamptz limit ${this.batchSize}
          ) returning id`)
        return result.rows.length
      })
      if (batch === -1) return { deleted, skipped: deleted === 0 }
      deleted += batch
      if (batch < this.batchSize || this.stopped) return { deleted, skipped: false }
    }
  }
}
