/**
 * OpenTelemetry tracing. Load it before anything else, so the instrumentations patch http, undici,
 * ioredis, pg and Fastify before they are imported:
 *
 *   node --import tsx --import ./tracing.ts server.ts      (what `npm start` runs)
 *
 * Off entirely — nothing but this file is loaded — unless OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Configured only by the standard OTEL_* variables,
 * which the SDK reads itself: OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by default, http/json,
 * grpc), OTEL_SERVICE_NAME (default here: portico), OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*,
 * OTEL_SDK_DISABLED. Metrics and logs are not exported over OTLP unless OTEL_METRICS_EXPORTER /
 * OTEL_LOGS_EXPORTER ask for it: /metrics and the pino log already carry them.
 *
 * Spans per proxied request: the server span (@fastify/otel, named `GET /api/users/:id` by route,
 * continuing the client's traceparent) and the client span of the upstream call (made by the
 * proxy, services/tracing/traced-dispatcher.ts), which carries `traceparent` to the upstream;
 * Redis and PostgreSQL commands made while serving it are children too. /health* and /metrics
 * are not traced (probes and scrapes would drown the real traffic).
 */
import { registerTracingShutdown } from './services/tracing/shutdown.ts'

const env = process.env
const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT
const disabled = /^(true|1)$/i.test(env.OTEL_SDK_DISABLED ?? '')

if (endpoint && !disabled) await startTracing()

async function startTracing (): Promise<void> {
  env.OTEL_SERVICE_NAME ||= 'portico'
  env.OTEL_METRICS_EXPORTER ||= 'none'
  env.OTEL_LOGS_EXPORTER ||= 'none'

  // Packages the app imports as ES modules (pg through drizzle) are patched by
  // import-in-the-middle; CommonJS ones (fastify, ioredis, undici) by require-in-the-middle.
  const { register } = await import('node:module')
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url)

  const [{ NodeSDK }, { IORedisInstrumentation }, { PgInstrumentation }, { FastifyOtelInstrumentation }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-pg'),
    import('@fastify/otel')
  ])

  const sdk = new NodeSDK({
    instrumentations: [
      // No undici instrumentation: the upstream call's span comes from the proxy itself
      // (services/tracing/traced-dispatcher.ts), at a fraction of the cost.
      new IORedisInstrumentation({ requireParentSpan: true }),
      new PgInstrumentation({ requireParentSpan: true }),
      // The server span of each request comes from @fastify/otel (which extracts the client's
      // traceparent itself), not from the http instrumentation: that one costs ~60 µs per request
      // on top, for a second span that says nothing more. No span per hook or handler either:
      // a gateway runs several hooks per request and a span each would cost more than the rest.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        instrumentHooks: false,
        instrumentHandler: false,
        ignorePaths: (route) => isUntracedPath(route.url),
        // Named by route: `GET /api/users/:id`; requests that match no route are `GET unmatched`.
        requestHook: (span, request) => span.updateName(`${request.method} ${request.routeOptions.url ?? 'unmatched'}`)
      })
    ]
  })
  sdk.start()
  registerTracingShutdown(() => sdk.shutdown())
}

// Route patterns, as @fastify/otel's ignorePaths receives them.
function isUntracedPath (url: string | undefined): boolean {
  return url === '/metrics' || url === '/health' || (url !== undefined && url.startsWith('/health/'))
}
