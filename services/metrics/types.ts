/**
 * What the concerns report to metrics. The app starts with `noopMetrics`; the metrics plugin
 * replaces `app.metrics` with the Prometheus implementation. A concern calls these on its own
 * events and never checks whether metrics are on.
 */
export type CacheResult = 'hit' | 'miss' | 'bypass'
export type CircuitState = 'closed' | 'open' | 'half-open'
export type UpstreamErrorKind = 'unavailable' | 'timeout' | 'bad-response' | 'circuit-open'
export type TrackingOutcome = 'written' | 'dropped' | 'failed'

export interface GatewayMetrics {
  cacheResult (result: CacheResult): void
  rateLimited (route: string): void
  upstreamRequest (service: string, target: string, seconds: number): void
  upstreamError (service: string, kind: UpstreamErrorKind): void
  trackingRows (outcome: TrackingOutcome, count: number): void
  storeError (store: string): void
  /** Read at scrape time: current breaker state of every target. */
  observeCircuits (collect: () => Array<{ service: string, target: string, state: CircuitState }>): void
  /** Read at scrape time: tracking queue depth (rows, and estimated bytes) and totals. */
  observeTracking (collect: () => { queued: number, written: number, dropped: number, queuedBytes?: number }): void
  /** Read at scrape time: how many entries the response cache holds (may be async for Redis). */
  observeCacheEntries (collect: () => number | Promise<number>): void
}

const noop = () => {}

export const noopMetrics: GatewayMetrics = {
  cacheResult: noop,
  rateLimited: noop,
  upstreamRequest: noop,
  upstreamError: noop,
  trackingRows: noop,
  storeError: noop,
  observeCircuits: noop,
  observeTracking: noop,
  observeCacheEntries: noop
}
