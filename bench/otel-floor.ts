/**
 * `node --import tsx bench/otel-floor.ts`: what the OpenTelemetry SDK costs per proxied request at
 * best, with nothing else running: the server span and the upstream call's client span as
 * Portico makes them (same attributes, context.with, traceparent extract and inject), in a
 * tight loop on one thread. Three ways, as CPU µs per request:
 *
 *   not sampled   OTEL_TRACES_SAMPLER=always_off: context and ids, spans not recorded
 *   recorded      spans recorded and handed to a BatchSpanProcessor whose exporter drops them
 *   exported      the same, the exporter serializing each batch to OTLP protobuf (the default)
 *
 * A floor, not a forecast: in the gateway the same work runs between sockets and other hooks,
 * with colder caches, and costs more. Set against tracing-off's CPU per request in
 * `npm run bench`, it bounds the tracing-on ratio the SDK allows on this machine.
 */
import { context, propagation, trace, SpanKind, type Tracer } from '@opentelemetry/api'
import { NodeSDK } from '@opentelemetry/sdk-node'
import { AlwaysOffSampler, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace'
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer'

type Mode = 'not sampled' | 'recorded' | 'exported'
const MODES: Mode[] = ['not sampled', 'recorded', 'exported']
const WARMUP = 50_000
const REQUESTS = 200_000

function exporter (serialize: boolean): SpanExporter {
  return {
    export (spans: ReadableSpan[], done) {
      if (serialize) ProtobufTraceSerializer.serializeRequest(spans)
      done({ code: 0 })
    },
    shutdown: async () => {}
  }
}

/** One request's tracing work, as tracing.ts, @fastify/otel and services/tracing/traced-dispatcher.ts do it. */
function tracedRequest (tracer: Tracer, headers: Record<string, string>): void {
  const parent = propagation.extract(context.active(), headers)
  const server = tracer.startSpan('request', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': '/bench', 'http.route': '/bench' } }, parent)
  server.updateName('GET /bench')
  context.with(trace.setSpan(parent, server), () => {
    const client = tracer.startSpan('GET', { kind: SpanKind.CLIENT, attributes: { 'server.address': '127.0.0.1', 'server.port': 8080, 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:8080/bench' } })
    const upstreamHeaders: Record<string, string> = {}
    propagation.inject(trace.setSpan(context.active(), client), upstreamHeaders)
    client.setAttribute('http.response.status_code', 200)
    client.end()
  })
  server.setAttribute('http.response.status_code', 200)
  server.end()
}

async function measure (mode: Mode): Promise<number> {
  const sdk = new NodeSDK({
    sampler: mode === 'not sampled' ? new AlwaysOffSampler() : undefined,
    spanProcessors: [new BatchSpanProcessor({ exporter: exporter(mode === 'exported'), maxQueueSize: 4096, maxExportBatchSize: 512 })]
  })
  sdk.start()
  const tracer = trace.getTracer('portico')
  const headers = {}
  // Yield now and then, as a server does, so the processor's timer and exports run.
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      tracedRequest(tracer, headers)
      if (i % 500 === 499) await new Promise(resolve => setImmediate(resolve))
    }
  }
  await run(WARMUP)
  const start = process.cpuUsage()
  await run(REQUESTS)
  await sdk.shutdown()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / REQUESTS
}

// Each mode in a process of its own: the SDK registers globals once per process.
const mode = process.argv[2] as Mode | undefined
if (mode !== undefined) {
  process.stdout.write(String(await measure(mode)))
} else {
  const { execFileSync } = await import('node:child_process')
  for (const m of MODES) {
    const µs = Number(execFileSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, m], { encoding: 'utf8' }))
    console.log(`${m.padEnd(12)} ${µs.toFixed(1).padStart(6)} µs CPU per request (2 spans)`)
  }
}
