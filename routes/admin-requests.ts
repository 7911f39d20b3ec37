import type { FastifyInstance } from 'fastify'
import { AdminRequestsQuery, AdminRequestsResponse, type AdminRequestsQueryType } from '../schemas/tracking.ts'
import { ErrorResponse } from '../schemas/gateway-api.ts'

/** GET /admin/requests: tracked requests, newest first, filtered by status, path, user and time. */
export default async function adminRequestsRoutes (app: FastifyInstance): Promise<void> {
  app.get<{ Querystring: AdminRequestsQueryType }>('/requests', {
    schema: {
      tags: ['Gateway'],
      summary: 'Tracked requests, newest first',
      description: 'Rows of the requests table (contract §6). `status` takes 404 or 4xx; `path` an exact path or a prefix ending in `*`. Needs `Authorization: Bearer <ADMIN_TOKEN>`.',
      querystring: AdminRequestsQuery,
      response: { 200: AdminRequestsResponse, 401: ErrorResponse, 404: ErrorResponse }
    }
  }, async (request) => {
    const { limit, status, path, user, since } = request.query
    const rows = await app.tracking.list({ limit, status, path, user, since: since === undefined ? undefined : new Date(since) })
    return { requests: rows }
  })
}
