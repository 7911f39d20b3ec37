import { context, propagation, trace, SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'

type RequestCallback = (err: Error | null, data?: Dispatcher.ResponseData) => void

interface Requester {
  request (opts: Dispatcher.RequestOptions, callback: RequestCallback): void
  close (): Promise<void>
  destroy (): Promise<void>
}

interface Server { address: string | undefined, port: number | undefined }

const tracer = trace.getTracer('portico')

/**
 * The client span of each upstream call, made where the proxy hands the request to undici. It
 * replaces @opentelemetry/instrumentation-undici, which cost about as much as the rest of tracing:
 * its diagnostics-channel subscribers make undici publish four events per request, and it parses
 * the URL and the headers of every request again to fill a dozen attributes. Here the parent is the
 * active context (the server span), the attributes are the few a trace backend uses, the server's
 * address is parsed once per origin, and the span ends at the response headers: the server span
 * already covers the streamed body.
 */
export class TracedDispatcher {
  // Parsed once per origin: the targets are few and fixed by the config.
  private readonly origins = new Map<string, Server>()

  constructor (private readonly inner: Requester) {}

  request (opts: Dispatcher.RequestOptions, callback: RequestCallback): void {
    const origin = String(opts.origin ?? '')
    const method = opts.method
    const server = this.server(origin)
    const span = tracer.startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: { 'server.address': server.address, 'server.port': server.port, 'http.request.method': method, 'url.full': origin + opts.path }
    })
    const headers = opts.headers as Record<string, string | string[] | undefined> | undefined
    if (headers !== undefined && !Array.isArray(headers)) {
      // reply-from forwards the client's headers: the upstream's parent must be this span, not the
      // client's, so its copy goes before ours is written (OTEL_PROPAGATORS decides which headers).
      headers.traceparent = undefined
      headers.tracestate = undefined
      propagation.inject(trace.setSpan(context.active(), span), headers)
    }
    this.inner.request(opts, (err, data) => {
      if (err !== null) endWithError(span, err)
      else endWithStatus(span, data!.statusCode)
      callback(err, data)
    })
  }

  close (): Promise<void> {
    return this.inner.close()
  }

  destroy (): Promise<void> {
    return this.inner.destroy()
  }

  private server (origin: string): Server {
    let server = this.origins.get(origin)
    if (server === undefined) {
      const url = URL.canParse(origin) ? new URL(origin) : undefined
      server = { address: url?.hostname, port: url === undefined ? undefined : Number(url.port || (url.protocol === 'https:' ? 443 : 80)) }
      this.origins.set(origin, server)
    }
    return server
  }
}

function endWithStatus (span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status)
  if (status >= 400) {
    span.setAttribute('error.type', String(status))
    span.setStatus({ code: SpanStatusCode.ERROR })
  }
  span.end()
}

function endWithError (span: Span, err: Error): void {
  span.setAttribute('error.type', (err as { code?: string }).code ?? err.name)
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message })
  span.end()
}
