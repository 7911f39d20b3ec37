import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { PrometheusMetrics, type RouteRecorder } from '../../services/metrics/prometheus.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Prometheus side of `app.metrics`: exposition and the JSON view, for GET /metrics. */
    prometheus: PrometheusMetrics
  }
  interface FastifyContextConfig {
    /** Set in onRoute: this route's pre-created metric cells. */
    metrics?: RouteRecorder
  }
}

/**
 * Replaces the no-op `app.metrics` with the Prometheus implementation and records every request:
 * count by method/route pattern/status/service and duration. Each route's label cells are
 * created once in onRoute, so a request costs two Map lookups and a few increments; requests
 * that match no route share one `route="unmatched"` recorder, so raw URLs never become labels.
 */
async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const metrics = new PrometheusMetrics({
    onCollectError: (what, err) => app.log.warn({ err }, `metrics: could not collect ${what}`)
  })
  // `metrics` is decorated with noopMetrics in app.ts so concerns can always call it; this
  // plugin is fp-wrapped, so `app` is the root instance and every later reader sees this one.
  app.metrics = metrics
  app.decorate('prometheus', metrics)

  app.addHook('onRoute', (routeOptions) => {
    const methods = Array.isArray(routeOptions.method) ? routeOptions.method : [routeOptions.method]
    const recorder = metrics.route(routeOptions.url ?? routeOptions.path, routeOptions.config?.route?.service, methods)
    // A copy: a GET and its exposed HEAD route start from the same options object.
    routeOptions.config = { ...routeOptions.config, metrics: recorder }
  })

  // Routes added before this plugin (the docs UI) have no recorder from onRoute: they get one
  // on first use, still labelled by their pattern. No route at all (404): `unmatched`.
  const late = new Map<string, RouteRecorder>()
  const lateRecorder = (url: string): RouteRecorder => {
    let recorder = late.get(url)
    if (recorder === undefined) {
      recorder = metrics.route(url, undefined, [])
      late.set(url, recorder)
    }
    return recorder
  }

  app.addHook('onResponse', function recordRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const config = request.routeOptions.config
    const recorder = config.metrics ?? (config.url === undefined ? metrics.unmatched : lateRecorder(config.url))
    recorder.record(request.method, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

export default fp(metricsPlugin, { name: 'portico-metrics', fastify: '5.x' })
