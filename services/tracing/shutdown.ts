/**
 * The seam between `tracing.ts` (loaded with --import, before the app) and `server.ts`: tracing
 * registers how to flush its spans, the server calls it after the app has closed. With tracing
 * off nothing is registered, `tracingStarted()` is false and `shutdownTracing()` returns at once.
 * A global symbol, because --import and the app's module graph may load this file as two module
 * instances.
 */
const KEY = Symbol.for('portico.tracing.shutdown')
const DEFAULT_FLUSH_TIMEOUT_MS = 5000

type Registry = Record<symbol, (() => Promise<void>) | undefined>

export function registerTracingShutdown (shutdown: () => Promise<void>): void {
  (globalThis as unknown as Registry)[KEY] = shutdown
}

/** Whether tracing.ts started the SDK in this process (OTEL_EXPORTER_OTLP_ENDPOINT set). */
export function tracingStarted (): boolean {
  return (globalThis as unknown as Registry)[KEY] !== undefined
}

/** Flushes and stops the tracer (bounded by `timeoutMs`); never throws. */
export async function shutdownTracing (timeoutMs = DEFAULT_FLUSH_TIMEOUT_MS): Promise<void> {
  const shutdown = (globalThis as unknown as Registry)[KEY]
  if (shutdown === undefined) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    shutdown().catch(() => {}),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); timer.unref() })
  ])
  clearTimeout(timer)
}
