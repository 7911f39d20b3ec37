import type { Dispatcher } from 'undici'

/**
 * undici checks `headersTimeout` on a coarse clock (about one second of slack), so a 100 ms
 * upstream timeout would fire after up to a second. This wrapper keeps a precise timer of its own
 * for the wait until response headers, aborting the request with undici's own timeout error code
 * so error mapping stays the same. undici's timers stay on as a backstop.
 */
export class HeadersTimeoutError extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT'
  constructor (ms: number) {
    super(`no response headers within ${ms}ms`)
    this.name = 'HeadersTimeoutError'
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
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new HeadersTimeoutError(ms)), ms)
    this.inner.request({ ...opts, signal: controller.signal }, (err, data) => {
      clearTimeout(timer)
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
