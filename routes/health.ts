import type { FastifyInstance } from 'fastify'
import { HealthResponse, ReadyResponse } from '../schemas/gateway-api.ts'
import { PACKAGE } from '../services/config/package-info.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Extra fields for GET /health, each computed from in-memory state (never waits on I/O). */
    healthSummary: Map<string, () => unknown>
  }
}

const startedAt = Date.now()

export default async function healthRoutes (app: FastifyInstance): Promise<void> {
  app.get('/health', {
    schema: { tags: ['Gateway'], summary: 'Liveness: answers as long as the process serves requests', response: { 200: HealthResponse } }
  }, async () => {
    const body: Record<string, unknown> = {
      status: 'healthy',
      service: 'api-gateway',
      version: PACKAGE.version,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      timestamp: new Date().toISOString()
    }
    for (const [name, summary] of app.healthSummary) body[name] = summary()
    return body
  })

  app.get('/health/ready', {
    schema: { tags: ['Gateway'], summary: 'Readiness: Redis, the database and every service', response: { 200: ReadyResponse, 503: ReadyResponse } }
  }, async (_request, reply) => {
    const result = await app.readiness.run()
    reply.code(result.ready ? 200 : 503)
    return { status: result.ready ? 'ready' : 'not ready', checks: result.checks }
  })
}
