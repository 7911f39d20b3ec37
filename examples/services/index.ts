import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { crudService } from './crud.ts'
import { authService } from './auth.ts'
import { PROJECT_ROOT } from '../../services/config/package-info.ts'

/** The config `npm start` uses when GATEWAY_CONFIG is unset; its service URLs match the ports below. */
export const exampleConfigPath = join(PROJECT_ROOT, 'examples', 'gateway.yaml')

export const EXAMPLE_PORTS = { users: 8001, products: 8002, orders: 8003, auth: 8004 } as const

export type ExampleServiceName = keyof typeof EXAMPLE_PORTS

/** `jwtSecret`: the auth service's HS256 key (the gateway's JWT_SECRET must match it). */
export function exampleServices (opts: { jwtSecret?: string } = {}): Record<ExampleServiceName, FastifyInstance> {
  return {
    users: crudService('users', 'users', [
      { name: 'Ada Lovelace', email: 'ada@example.com' },
      { name: 'Alan Turing', email: 'alan@example.com' }
    ]),
    products: crudService('products', 'products', [
      { name: 'Keyboard', price: 49.9 },
      { name: 'Monitor', price: 229 }
    ]),
    orders: crudService('orders', 'orders', [{ productId: '1', quantity: 2 }]),
    auth: authService(opts.jwtSecret)
  }
}

/** Starts the example upstreams on 127.0.0.1 (their fixed ports, or 0 for tests). */
export async function startExampleServices (ports: Partial<Record<keyof typeof EXAMPLE_PORTS, number>> = EXAMPLE_PORTS) {
  const apps = exampleServices()
  const urls: Record<string, string> = {}
  try {
    for (const [name, app] of Object.entries(apps)) {
      urls[name] = await app.listen({ host: '127.0.0.1', port: ports[name as keyof typeof EXAMPLE_PORTS] ?? 0 })
    }
  } catch (err) {
    await Promise.all(Object.values(apps).map(a => a.close()))
    throw new Error(`cannot start the example services: ${(err as Error).message} (set GATEWAY_CONFIG to run the gateway alone)`)
  }
  return { urls, close: async () => { await Promise.all(Object.values(apps).map(a => a.close())) } }
}
