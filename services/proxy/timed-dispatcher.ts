import type { Dispatcher } from 'undici'

/**
 * undici checks `headersTimeout` on a coarse clock (about one second of slack), so a 100 ms
 * upstream timeout would fire after up to a second. This wrapper keeps a precise timer of its own
 * for the wait until response headers and aborts the request with undici's own timeout error code,
 * so error mapping stays the same; undici's timers stay on as a backstop.
 */
export class HeadersTimeoutError extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT'
  constructor (ms: number) {
    super(`no response headers within ${ms}ms`)
    this.name = 'HeadersTimeoutError'
  }
}

/**
 * The abort signal undici accepts as "an EventEmitter": one listener, one timer. An AbortController
 * per request cost measurably more on the proxy's hot path (EventTarget machinery).
 */
class HeadersDeadline {
  aborted = false
  reason: Error | undefined
  private listener: (() => void) | undefined
  readonly timer: NodeJS.Timeout

  constructor (private readonly ms: number) {
    this.timer = setTimeout(() => this.expire(), ms)
  }

  on (_event: 'abort', listener: () => void): this { this.listener = listener; return this }
  once (_event: 'abort', listener: () => void): this { this.listener = listener; return this }
  removeListener (): this { this.listener = undefined; return this }

  private expire (): void {
    this.aborted = true
    this.reason = new HeadersTimeoutError(this.ms)
    this.listener?.()
  }
}

type RequestCallback = (err: Error | null, data?: Dispatcher.ResponseData) => void

export class TimedDispatcher {
  constructor (private readonly inner: Dispatcher) {}

  request (opts: Dispatcher.RequestOptions, callback: RequestCallback): void {
    const ms = opts.headersTimeout
    if (!ms) {
      this.inner.request(opts, callback)
      return
    }
    const deadline = new HeadersDeadline(ms)
    opts.signal = deadline as unknown as Dispatcher.RequestOptions['signal']
    this.inner.request(opts, (err, data) => {
      clearTimeout(deadline.timer)
      callback(err, data)
    })
  }

  close (): Promise<void> {
    return this.inner.close()
  }

  destroy (): Promise<void> {
    return this.inner.destroy()
  }
}
