import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'

declare module 'fastify' {
  interface FastifyInstance {
    readiness: ReadinessRegistry
  }
}

const DEFAULT_CHECK_TIMEOUT_MS = 2000

/**
 * A dependency check: resolves when healthy, rejects (with a reason) when not. A `detail` it
 * resolves with (or sets on its error) is shown beside the status (e.g. per-target states).
 */
export type ReadinessCheck = () => Promise<unknown>

export interface ReadinessResult {
  ready: boolean
  checks: Record<string, { status: 'up' | 'down', error?: string, durationMs: number, detail?: unknown }>
}

/**
 * The checks behind /health/ready. Each concern registers its own (Redis, database, services) at
 * start-up, so the route knows nothing of them. Checks run in parallel, each bounded by a timeout.
 */
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>()

  add (name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check ${name} is already registered`)
    this.checks.set(name, check)
  }

  async run (timeoutMs = DEFAULT_CHECK_TIMEOUT_MS): Promise<ReadinessResult> {
    const entries = await Promise.all([...this.checks].map(async ([name, check]) => {
      const started = performance.now()
      let timer: NodeJS.Timeout | undefined
      try {
        const result = await Promise.race([
          check(),
          new Promise((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs}ms`)), timeoutMs) })
        ]) as { detail?: unknown } | undefined
        return [name, { status: 'up' as const, durationMs: elapsed(started), ...detailOf(result) }] as const
      } catch (err) {
        return [name, { status: 'down' as const, error: (err as Error).message, durationMs: elapsed(started), ...detailOf(err) }] as const
      } finally {
        clearTimeout(timer)
      }
    }))
    const checks = Object.fromEntries(entries)
    return { ready: entries.every(([, r]) => r.status === 'up'), checks }
  }
}

function detailOf (value: unknown): { detail?: unknown } {
  const detail = (value as { detail?: unknown } | null | undefined)?.detail
  return detail === undefined ? {} : { detail }
}

function elapsed (started: number): number {
  return Math.round(performance.now() - started)
}

async function readiness (app: FastifyInstance): Promise<void> {
  app.decorate('readiness', new ReadinessRegistry())
}

export default fp(readiness, { name: 'portico-readiness', fastify: '5.x' })
