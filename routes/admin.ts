import { timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { AdminUnauthorizedError, RouteNotFoundError } from '../errors.ts'
import { errorBody } from '../plugins/error-handler/index.ts'

export interface AdminRoutesOptions {
  /** Bearer token for /admin/*; the routes are not registered at all when it is unset (404). */
  token?: string
  /** Admin endpoints contributed by each concern, registered under /admin behind the token check. */
  routes: FastifyPluginAsync[]
}

/** The admin API: every route under /admin answers only to `Authorization: Bearer <ADMIN_TOKEN>`. */
export default async function adminRoutes (app: FastifyInstance, opts: AdminRoutesOptions): Promise<void> {
  if (opts.token === undefined) return
  const expected = Buffer.from(`Bearer ${opts.token}`)
  app.addHook('onRequest', async (request, reply) => {
    const given = Buffer.from(request.headers.authorization ?? '')
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      reply.header('www-authenticate', 'Bearer realm="portico-admin"')
      throw new AdminUnauthorizedError()
    }
  })
  // Unknown /admin paths answer 404 only to an operator: the token check runs first.
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, new RouteNotFoundError(request.method, request.url.split('?')[0]).message, request.id))
  })
  for (const routes of opts.routes) await app.register(routes)
}
