/**
 * Counters and histograms whose label sets are resolved once, up front, into plain objects
 * ("cells"), so recording on the hot path is `cell.value++` — no label hashing, no validation.
 *
 * prom-client's own `labels(...)` children re-hash and re-validate their labels on every
 * `inc()`/`observe()`; at one counter and one histogram per request that is measurable against
 * a proxy's ~90 µs per request. These classes implement the small `get()` shape prom-client's
 * Registry formats (the same shape its own metrics return), so they sit in a normal Registry
 * beside prom-client gauges and the process defaults, and the exposition format stays
 * prom-client's.
 */

export type Labels<L extends string> = Readonly<Record<L, string>>

interface MetricValue {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

interface MetricData {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  values: MetricValue[]
}

// A label set's identity, used only when a cell is created (never per event).
function keyOf (labelNames: readonly string[], labels: Record<string, string>): string {
  let key = ''
  for (const name of labelNames) key += labels[name] + '\u0000'
  return key
}

/** One label set of a counter. */
export interface CounterCell {
  value: number
}

export class CellCounter<L extends string> {
  readonly type = 'counter'
  readonly aggregator = 'sum'
  private readonly cells = new Map<string, { labels: Labels<L>, cell: CounterCell }>()

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly L[]) {}

  /** The cell of this label set, created (at 0, so the series is exported) on first use. */
  cell (labels: Labels<L>): CounterCell {
    const key = keyOf(this.labelNames, labels)
    let entry = this.cells.get(key)
    if (entry === undefined) {
      entry = { labels: { ...labels }, cell: { value: 0 } }
      this.cells.set(key, entry)
    }
    return entry.cell
  }

  /** Sum over every cell whose labels match `where` (for the JSON view). */
  sum (where: Partial<Labels<L>> = {}): number {
    let total = 0
    for (const { labels, cell } of this.cells.values()) {
      if (matches(labels, where)) total += cell.value
    }
    return total
  }

  get (): MetricData {
    const values: MetricValue[] = []
    for (const { labels, cell } of this.cells.values()) values.push({ value: cell.value, labels: { ...labels } })
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

/** One label set of a histogram. `counts[i]` counts observations in bucket i (not cumulative). */
export class HistogramCell {
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor (private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }

  observe (value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    // Past the last bound: only +Inf, which is `count`.
    if (i < bounds.length) this.counts[i]++
    this.sum += value
    this.count++
  }
}

export class CellHistogram<L extends string> {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly cells = new Map<string, { labels: Labels<L>, cell: HistogramCell }>()

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly L[], readonly buckets: readonly number[]) {
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new Error(`${name}: buckets must increase`)
    }
  }

  cell (labels: Labels<L>): HistogramCell {
    const key = keyOf(this.labelNames, labels)
    let entry = this.cells.get(key)
    if (entry === undefined) {
      entry = { labels: { ...labels }, cell: new HistogramCell(this.buckets) }
      this.cells.set(key, entry)
    }
    return entry.cell
  }

  get (): MetricData {
    const values: MetricValue[] = []
    const bucketName = this.name + '_bucket'
    for (const { labels, cell } of this.cells.values()) {
      let cumulative = 0
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += cell.counts[i]
        values.push({ metricName: bucketName, labels: { ...labels, le: this.buckets[i] }, value: cumulative })
      }
      values.push({ metricName: bucketName, labels: { ...labels, le: '+Inf' }, value: cell.count })
      values.push({ metricName: this.name + '_sum', labels: { ...labels }, value: cell.sum })
      values.push({ metricName: this.name + '_count', labels: { ...labels }, value: cell.count })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }
}

function matches (labels: Record<string, string>, where: Record<string, string | undefined>): boolean {
  for (const name in where) {
    if (where[name] !== undefined && labels[name] !== where[name]) return false
  }
  return true
}
