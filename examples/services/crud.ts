import Fastify, { type FastifyInstance } from 'fastify'

export interface Resource { id: string, [key: string]: unknown }

/**
 * A tiny in-memory CRUD service, the shape of the example users/products/orders upstreams.
 * It echoes the identity headers the gateway sends, so a browser of /docs can see them arrive.
 */
export function crudService (name: string, collection: string, seed: Omit<Resource, 'id'>[]): FastifyInstance {
  const app = Fastify({ logger: false })
  const items = new Map<string, Resource>()
  let next = 1
  for (const item of seed) {
    const id = String(next++)
    items.set(id, { id, ...item })
  }

  app.get('/health', async () => ({ status: 'ok', service: name }))
  app.get(`/${collection}`, async (request) => {
    const { limit } = request.query as { limit?: string }
    const all = [...items.values()]
    return { [collection]: limit ? all.slice(0, Number(limit)) : all, total: all.length }
  })
  app.get(`/${collection}/:id`, async (request, reply) => {
    const item = items.get((request.params as { id: string }).id)
    if (!item) return reply.code(404).send({ error: `${name}: not found` })
    return { ...item, viewer: viewer(request.headers) }
  })
  app.post(`/${collection}`, async (request, reply) => {
    const id = String(next++)
    const item = { id, ...(request.body as object) }
    items.set(id, item)
    return reply.code(201).send(item)
  })
  app.put(`/${collection}/:id`, async (request, reply) => {
    const { id } = request.params as { id: string }
    if (!items.has(id)) return reply.code(404).send({ error: `${name}: not found` })
    const item = { id, ...(request.body as object) }
    items.set(id, item)
    return item
  })
  app.delete(`/${collection}/:id`, async (request, reply) => {
    const { id } = request.params as { id: string }
    return items.delete(id) ? reply.code(204).send() : reply.code(404).send({ error: `${name}: not found` })
  })
  return app
}

function viewer (headers: Record<string, unknown>) {
  return headers['x-user-id'] ? { id: headers['x-user-id'], scopes: headers['x-user-scopes'], tier: headers['x-user-tier'] } : null
}
