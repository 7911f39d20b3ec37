import { randomUUID } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { PLAIN_ROUTE_OFF } from '../plain-route.ts'
import type { BenchContext, BenchScenario, BenchTarget } from '../scenario.ts'
import { buildApp } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import { SessionStore } from '../../services/auth/session-store.ts'

const SECRET = 'bench-secret-bench-secret-bench-secret'

/** The plain bench route with `auth: required`, behind whichever credential the scenario sends. */
type Credential = (app: Awaited<ReturnType<typeof buildApp>>) => Promise<{ headers: Record<string, string>, cleanup?: () => Promise<unknown> }>

async function start (ctx: BenchContext, env: Record<string, string>, credential: Credential): Promise<BenchTarget> {
  const config = parseConfig(JSON.stringify({
    services: { bench: { url: ctx.upstreamUrl } },
    routes: [{ path: '/bench', methods: ['GET'], service: 'bench', auth: 'required', ...PLAIN_ROUTE_OFF }]
  }), 'bench-auth.json')
  const app = await buildApp({ env: loadEnv({ LOG_LEVEL: 'silent', TRACKING_ENABLED: 'false', ...env }), config, logger: false })
  const { headers, cleanup } = await credential(app)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { url, path: '/bench', method: 'GET', headers, close: async () => { await cleanup?.(); await app.close() } }
}

export const scenarios: BenchScenario[] = [
  {
    name: 'auth-hs256',
    description: 'plain route with auth: required, HS256 bearer token (verified-token cache on, as in production)',
    baseline: 'portico-plain',
    target: 0.85,
    setup: (ctx) => start(ctx, { JWT_SECRET: SECRET }, async () => {
      const token = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 3_600_000 })({ sub: 'bench-user', email: 'bench@example.com', scope: 'bench:read', tier: 'premium' })
      return { headers: { authorization: `Bearer ${token}` } }
    })
  },
  {
    name: 'auth-session-redis',
    description: 'plain route with auth: required, gateway session cookie looked up in Redis per request',
    baseline: 'portico-plain',
    setup: (ctx) => {
      if (ctx.redisUrl === undefined) throw new Error('auth-session-redis needs REDIS_URL')
      const prefix = `portico-bench:auth:${randomUUID().slice(0, 8)}`
      return start(ctx, { REDIS_URL: ctx.redisUrl, REDIS_KEY_PREFIX: prefix }, async (app) => {
        const sessions = new SessionStore(app.store.child('cookie'), 3_600_000)
        const id = await sessions.create({ id: 'bench-user', email: 'bench@example.com', scopes: ['bench:read'], tier: 'premium', via: 'session' })
        return { headers: { cookie: `session=${id}` }, cleanup: () => sessions.destroy(id) }
      })
    }
  }
]
