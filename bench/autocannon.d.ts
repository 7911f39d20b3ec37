// The part of autocannon's programmatic API the harness uses (the package ships no types).
declare module 'autocannon' {
  export interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
  }
  export interface Histogram { average: number, mean: number, stddev: number, min: number, max: number, p50: number, p90: number, p99: number, total: number }
  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    resets: number
    '2xx': number
    statusCodeStats: Record<string, { count: number }>
    latency: Histogram
    requests: Histogram & { sent: number }
    throughput: Histogram
  }
  export interface Instance extends PromiseLike<Result> {
    on (event: 'error' | 'reqError', listener: (err: Error) => void): this
    stop (): void
  }
  function autocannon (opts: Options): Instance
  export default autocannon
}
