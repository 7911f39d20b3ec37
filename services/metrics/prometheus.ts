import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import { CellCounter, CellHistogram, type CounterCell, type HistogramCell } from './cells.ts'
import type { CacheResult, CircuitState, GatewayMetrics, TrackingOutcome, UpstreamErrorKind } from './types.ts'

/** Route label of requests that matched no route: raw URLs never become labels. */
export const UNMATCHED_ROUTE = 'unmatched'
/** Service label of requests that no service answers (the gateway's own endpoints, 404s). */
export const NO_SERVICE = ''

/** Request durations, seconds: from a cache hit (~1 ms) to the default upstream timeout (10 s). */
export const HTTP_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** `portico_circuit_state` values; the dashboard maps them back to names. */
export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 }

export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE

/** The JSON view of contract §5 (`GET /metrics` with `Accept: application/json`). */
export interface MetricsSnapshot {
  requests: { total: number, successful: number, failed: number, cached: number, rateLimited: number }
  circuitBreakers: Record<string, CircuitState>
  /** `entries` is null when the cache could not be counted (e.g. Redis down). */
  cache: { entries: number | null, hits: number, misses: number }
  tracking: { queued: number, written: number, dropped: number }
  uptimeSeconds: number
}

type CircuitsCollector = () => Array<{ service: string, target: string, state: CircuitState }>
type TrackingCollector = () => { queued: number, written: number, dropped: number, queuedBytes?: number }
type CacheEntriesCollector = () => number | Promise<number>

export interface PrometheusMetricsOptions {
  /** Called when a scrape-time collector throws; metrics carry on without its numbers. */
  onCollectError?: (what: string, err: unknown) => void
}

// Process-wide defaults (CPU, memory, event loop lag, GC) describe the process, not one app,
// and prom-client's collectors for them register observers that are never removed: create
// them once per process, however many apps (tests build dozens) are built.
let processRegistry: Registry | undefined
function processDefaults (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

/** Records one route's requests; one per route pattern, its cells created when the route is. */
export class RouteRecorder {
  private readonly byMethod = new Map<string, { duration: HistogramCell, byStatus: Map<number, CounterCell> }>()

  constructor (private readonly metrics: PrometheusMetrics, readonly route: string, readonly service: string, methods: readonly string[]) {
    for (const method of methods) this.cellsOf(method)
  }

  /** Hot path: two Map lookups and a few increments. */
  record (method: string, statusCode: number, seconds: number): void {
    const cells = this.byMethod.get(method) ?? this.cellsOf(method)
    cells.duration.observe(seconds)
    let counter = cells.byStatus.get(statusCode)
    if (counter === undefined) {
      counter = this.metrics.httpRequests.cell({ method, route: this.route, status_code: String(statusCode), service: this.service })
      cells.byStatus.set(statusCode, counter)
    }
    counter.value++
    this.metrics.countRequest(statusCode)
  }

  private cellsOf (method: string) {
    const cells = {
      duration: this.metrics.httpDuration.cell({ method, route: this.route, service: this.service }),
      byStatus: new Map<number, CounterCell>()
    }
    this.byMethod.set(method, cells)
    return cells
  }
}

/**
 * The Prometheus implementation of `GatewayMetrics`, plus the HTTP request metrics the metrics
 * plugin records. One per app, each with its own Registry (apps in one process never share
 * series); the exposition prepends the process-wide defaults.
 */
export class PrometheusMetrics implements GatewayMetrics {
  readonly registry = new Registry()
  readonly httpRequests = new CellCounter('portico_http_requests_total', 'HTTP requests answered by the gateway', ['method', 'route', 'status_code', 'service'])
  readonly httpDuration = new CellHistogram('portico_http_request_duration_seconds', 'Time from request received to response sent, seconds', ['method', 'route', 'service'], HTTP_DURATION_BUCKETS)
  private readonly upstreamDuration = new CellHistogram('portico_upstream_request_duration_seconds', 'Upstream call duration until response headers or failure, seconds', ['service', 'target'], HTTP_DURATION_BUCKETS)
  private readonly upstreamErrors = new CellCounter('portico_upstream_errors_total', 'Failed upstream calls by kind', ['service', 'kind'])
  private readonly cacheRequests = new CellCounter('portico_cache_requests_total', 'Response cache lookups by result', ['result'])
  private readonly rateLimitedRequests = new CellCounter('portico_rate_limited_total', 'Requests refused with 429 by the rate limiter', ['route'])
  private readonly trackingRowsTotal = new CellCounter('portico_tracking_rows_total', 'Tracking rows by outcome', ['outcome'])
  private readonly storeErrors = new CellCounter('portico_store_errors_total', 'Failed store operations (the concern failed open or closed as configured)', ['store'])

  private readonly started = process.hrtime.bigint()
  private total = 0
  private successful = 0
  private failed = 0
  private readonly cacheCells: Record<CacheResult, CounterCell>
  private readonly trackingCells: Record<TrackingOutcome, CounterCell>
  private readonly rateLimitedCells = new Map<string, CounterCell>()
  private readonly upstreamCells = new Map<string, Map<string, HistogramCell>>()
  private readonly upstreamErrorCells = new Map<string, Map<UpstreamErrorKind, CounterCell>>()
  private readonly storeErrorCells = new Map<string, CounterCell>()
  private readonly knownServices = new Set<string>()

  private readonly circuits: CircuitsCollector[] = []
  private readonly tracking: TrackingCollector[] = []
  private readonly cacheEntries: CacheEntriesCollector[] = []
  private readonly onCollectError: (what: string, err: unknown) => void

  readonly unmatched: RouteRecorder

  constructor (opts: PrometheusMetricsOptions = {}) {
    this.onCollectError = opts.onCollectError ?? (() => {})
    // Started now, so event-loop lag and GC are measured from start-up, not from the first scrape.
    processDefaults()
    for (const metric of [this.httpRequests, this.httpDuration, this.upstreamDuration, this.upstreamErrors, this.cacheRequests, this.rateLimitedRequests, this.trackingRowsTotal, this.storeErrors]) {
      this.registry.registerMetric(metric as unknown as Metric)
    }
    this.cacheCells = {
      hit: this.cacheRequests.cell({ result: 'hit' }),
      miss: this.cacheRequests.cell({ result: 'miss' }),
      bypass: this.cacheRequests.cell({ result: 'bypass' })
    }
    this.trackingCells = {
      written: this.trackingRowsTotal.cell({ outcome: 'written' }),
      dropped: this.trackingRowsTotal.cell({ outcome: 'dropped' }),
      failed: this.trackingRowsTotal.cell({ outcome: 'failed' })
    }
    this.unmatched = new RouteRecorder(this, UNMATCHED_ROUTE, NO_SERVICE, [])

    const self = this
    /* eslint-disable no-new */
    new Gauge({
      name: 'portico_circuit_state',
      help: 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open',
      labelNames: ['service', 'target'],
      registers: [this.registry],
      collect () {
        this.reset()
        for (const c of self.collectCircuits()) this.set({ service: c.service, target: c.target }, CIRCUIT_STATE_VALUE[c.state])
      }
    })
    new Gauge({
      name: 'portico_tracking_queue_depth',
      help: 'Tracking rows waiting to be written',
      registers: [this.registry],
      collect () { this.set(self.collectTracking()?.queued ?? 0) }
    })
    new Gauge({
      name: 'portico_tracking_queue_bytes',
      help: 'Estimated memory held by tracking rows waiting to be written, bytes (bounded by TRACKING_QUEUE_MAX_BYTES)',
      registers: [this.registry],
      collect () { this.set(self.collectTracking()?.queuedBytes ?? 0) }
    })
    new Gauge({
      name: 'portico_cache_entries',
      help: 'Entries held by the response cache',
      registers: [this.registry],
      async collect () {
        // Unknown (store down): the last known value stays; the failure shows in the log.
        const entries = await self.collectCacheEntries()
        if (entries !== null) this.set(entries)
      }
    })
  }

  /** A recorder for one route pattern; its series exist (at zero) from now on. */
  route (route: string, service: string | undefined, methods: readonly string[]): RouteRecorder {
    if (service !== undefined) this.knownServices.add(service)
    return new RouteRecorder(this, route, service ?? NO_SERVICE, methods)
  }

  /** @internal: called by RouteRecorder for the JSON totals. */
  countRequest (statusCode: number): void {
    this.total++
    if (statusCode < 400) this.successful++
    else this.failed++
  }

  cacheResult (result: CacheResult): void {
    this.cacheCells[result].value++
  }

  rateLimited (route: string): void {
    let cell = this.rateLimitedCells.get(route)
    if (cell === undefined) {
      cell = this.rateLimitedRequests.cell({ route })
      this.rateLimitedCells.set(route, cell)
    }
    cell.value++
  }

  upstreamRequest (service: string, target: string, seconds: number): void {
    let targets = this.upstreamCells.get(service)
    if (targets === undefined) {
      targets = new Map()
      this.upstreamCells.set(service, targets)
    }
    let cell = targets.get(target)
    if (cell === undefined) {
      cell = this.upstreamDuration.cell({ service, target })
      targets.set(target, cell)
    }
    cell.observe(seconds)
  }

  upstreamError (service: string, kind: UpstreamErrorKind): void {
    let kinds = this.upstreamErrorCells.get(service)
    if (kinds === undefined) {
      kinds = new Map()
      this.upstreamErrorCells.set(service, kinds)
    }
    let cell = kinds.get(kind)
    if (cell === undefined) {
      cell = this.upstreamErrors.cell({ service, kind })
      kinds.set(kind, cell)
    }
    cell.value++
  }

  trackingRows (outcome: TrackingOutcome, count: number): void {
    this.trackingCells[outcome].value += count
  }

  storeError (store: string): void {
    let cell = this.storeErrorCells.get(store)
    if (cell === undefined) {
      cell = this.storeErrors.cell({ store })
      this.storeErrorCells.set(store, cell)
    }
    cell.value++
  }

  observeCircuits (collect: CircuitsCollector): void {
    this.circuits.push(collect)
  }

  observeTracking (collect: TrackingCollector): void {
    this.tracking.push(collect)
  }

  observeCacheEntries (collect: CacheEntriesCollector): void {
    this.cacheEntries.push(collect)
  }

  /** The Prometheus text exposition: process defaults, then the gateway's metrics. */
  async exposition (): Promise<string> {
    const [defaults, gateway] = await Promise.all([processDefaults().metrics(), this.registry.metrics()])
    return defaults + '\n' + gateway
  }

  async snapshot (): Promise<MetricsSnapshot> {
    const circuitBreakers: Record<string, CircuitState> = {}
    for (const service of this.knownServices) circuitBreakers[service] = 'closed'
    for (const { service, state } of this.collectCircuits()) {
      const prior = circuitBreakers[service]
      if (prior === undefined || CIRCUIT_STATE_VALUE[state] > CIRCUIT_STATE_VALUE[prior]) circuitBreakers[service] = state
    }
    const collected = this.collectTracking()
    const tracking = collected === undefined
      ? { queued: 0, written: this.trackingCells.written.value, dropped: this.trackingCells.dropped.value }
      : { queued: collected.queued, written: collected.written, dropped: collected.dropped }
    return {
      requests: {
        total: this.total,
        successful: this.successful,
        failed: this.failed,
        cached: this.cacheCells.hit.value,
        rateLimited: this.rateLimitedRequests.sum()
      },
      circuitBreakers,
      cache: { entries: await this.collectCacheEntries(), hits: this.cacheCells.hit.value, misses: this.cacheCells.miss.value },
      tracking,
      uptimeSeconds: Math.round(Number(process.hrtime.bigint() - this.started) / 1e9)
    }
  }

  private collectCircuits () {
    const all: ReturnType<CircuitsCollector> = []
    for (const collect of this.circuits) {
      try {
        all.push(...collect())
      } catch (err) {
        this.onCollectError('circuit breakers', err)
      }
    }
    return all
  }

  /** Sum over the tracking collectors; undefined when there are none. */
  private collectTracking () {
    if (this.tracking.length === 0) return undefined
    const sum = { queued: 0, queuedBytes: 0, written: 0, dropped: 0 }
    for (const collect of this.tracking) {
      try {
        const t = collect()
        sum.queued += t.queued
        sum.queuedBytes += t.queuedBytes ?? 0
        sum.written += t.written
        sum.dropped += t.dropped
      } catch (err) {
        this.onCollectError('tracking', err)
      }
    }
    return sum
  }

  /** Sum over the cache collectors; null when one of them failed (unknown, not zero). */
  private async collectCacheEntries (): Promise<number | null> {
    let sum = 0
    for (const collect of this.cacheEntries) {
      try {
        sum += await collect()
      } catch (err) {
        this.onCollectError('cache entries', err)
        return null
      }
    }
    return sum
  }
}
