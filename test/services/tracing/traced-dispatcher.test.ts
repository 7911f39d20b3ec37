import t from 'tap'
import { NodeSDK, tracing } from '@opentelemetry/sdk-node'
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { Dispatcher } from 'undici'
import { TracedDispatcher } from '../../../services/tracing/traced-dispatcher.ts'

const exporter = new tracing.InMemorySpanExporter()
const processor = new tracing.SimpleSpanProcessor(exporter)
const sdk = new NodeSDK({ spanProcessors: [processor], instrumentations: [] })
sdk.start()
t.teardown(() => sdk.shutdown())

type Answer = (opts: Dispatcher.RequestOptions) => [Error | null, Dispatcher.ResponseData?]

function dispatcher (answer: Answer): { traced: TracedDispatcher, sent: Dispatcher.RequestOptions[] } {
  const sent: Dispatcher.RequestOptions[] = []
  const traced = new TracedDispatcher({
    request: (opts, callback) => { sent.push(opts); setImmediate(() => callback(...answer(opts) as [Error | null, Dispatcher.ResponseData])) },
    close: async () => {},
    destroy: async () => {}
  })
  return { traced, sent }
}

function call (traced: TracedDispatcher, headers: Record<string, string>): Promise<Error | null> {
  const parent = trace.getTracer('test').startSpan('server')
  return new Promise<Error | null>((resolve) => {
    context.with(trace.setSpan(context.active(), parent), () => {
      traced.request({ origin: 'http://127.0.0.1:4000', path: '/things/1?x=1', method: 'GET', headers }, (err) => { parent.end(); resolve(err) })
    })
  }).then(async (err) => { await processor.forceFlush(); return err })
}

t.beforeEach(() => exporter.reset())

t.test('a client span, child of the active span, whose context replaces the client\'s traceparent', async (t) => {
  const { traced, sent } = dispatcher(() => [null, { statusCode: 200 } as Dispatcher.ResponseData])
  const clientTraceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  await call(traced, { traceparent: clientTraceparent, tracestate: 'client=1', accept: '*/*' })
  const [client, server] = exporter.getFinishedSpans()
  t.equal(client.kind, SpanKind.CLIENT)
  t.equal(client.name, 'GET')
  t.equal(client.parentSpanContext?.spanId, server.spanContext().spanId)
  t.same(client.attributes, { 'server.address': '127.0.0.1', 'server.port': 4000, 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:4000/things/1?x=1', 'http.response.status_code': 200 })
  const headers = sent[0].headers as Record<string, string | undefined>
  t.equal(headers.traceparent, `00-${client.spanContext().traceId}-${client.spanContext().spanId}-01`)
  t.equal(headers.tracestate, undefined, 'the client\'s tracestate is not left beside our traceparent')
  t.equal(headers.accept, '*/*')
})

t.test('an upstream error or a 4xx/5xx answer marks the span as failed', async (t) => {
  const err = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
  t.equal(await call(dispatcher(() => [err]).traced, {}), err, 'the error reaches the caller')
  await call(dispatcher(() => [null, { statusCode: 503 } as Dispatcher.ResponseData]).traced, {})
  const [refused, , unavailable] = exporter.getFinishedSpans()
  t.equal(refused.status.code, SpanStatusCode.ERROR)
  t.equal(refused.attributes['error.type'], 'ECONNREFUSED')
  t.equal(unavailable.status.code, SpanStatusCode.ERROR)
  t.equal(unavailable.attributes['http.response.status_code'], 503)
})
