import type { FastifyInstance } from 'fastify'
import { RootResponse } from '../schemas/gateway-api.ts'
import { PACKAGE } from '../services/config/package-info.ts'

export default async function rootRoute (app: FastifyInstance): Promise<void> {
  app.get('/', {
    schema: { tags: ['Gateway'], summary: 'What this gateway is and where to look next', response: { 200: RootResponse } }
  }, async () => ({
    name: PACKAGE.name,
    version: PACKAGE.version,
    links: { docs: '/docs', health: '/health', metrics: '/metrics' }
  }))
}
