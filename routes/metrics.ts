import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { MetricsJsonResponse } from '../schemas/gateway-api.ts'
import { PROMETHEUS_CONTENT_TYPE } from '../services/metrics/prometheus.ts'

/**
 * GET /metrics: Prometheus text exposition, or with `Accept: application/json` the totals of
 * contract §5. Prometheus' own Accept header never names application/json, so a scraper always
 * gets the text format.
 */
export default async function metricsRoute (app: FastifyInstance): Promise<void> {
  if (!app.hasDecorator('prometheus')) throw new Error('routes/metrics.ts needs the portico-metrics plugin registered first')

  app.get('/metrics', {
    schema: {
      tags: ['Gateway'],
      summary: 'Prometheus metrics, or JSON totals with Accept: application/json',
      response: {
        200: {
          content: {
            'text/plain': { schema: Type.String({ description: 'Prometheus text exposition format 0.0.4' }) },
            'application/json': { schema: MetricsJsonResponse }
          }
        }
      }
    }
  }, async (request, reply) => {
    const accept = request.headers.accept
    if (accept !== undefined && accept.includes('application/json')) {
      reply.type('application/json; charset=utf-8')
      return app.prometheus.snapshot()
    }
    reply.type(PROMETHEUS_CONTENT_TYPE)
    return app.prometheus.exposition()
  })
}
