import Fastify, { type FastifyInstance } from 'fastify'
import { createSigner, createVerifier } from 'fast-jwt'
import { randomUUID, scryptSync, timingSafeEqual, randomBytes } from 'node:crypto'

export const EXAMPLE_JWT_SECRET = 'portico-example-secret-change-me'

interface Account { id: string, email: string, salt: Buffer, hash: Buffer, scopes: string[], tier: string }

/**
 * The example auth service: /register and /login issue HS256 JWTs (sub, email, scope, tier),
 * /verify answers the gateway's remote verification. Passwords are scrypt-hashed even here,
 * because examples get copied.
 */
export function authService (secret = EXAMPLE_JWT_SECRET): FastifyInstance {
  const app = Fastify({ logger: false })
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3_600_000 })
  const verify = createVerifier({ key: secret, algorithms: ['HS256'] })
  const accounts = new Map<string, Account>()

  const addAccount = (email: string, password: string, scopes: string[], tier: string): Account => {
    const salt = randomBytes(16)
    const account = { id: randomUUID(), email, salt, hash: scryptSync(password, salt, 32), scopes, tier }
    accounts.set(email, account)
    return account
  }
  addAccount('demo@example.com', 'demo-password', ['users:read', 'products:write', 'orders:read', 'orders:write'], 'premium')

  const issue = (a: Account) => ({
    token: sign({ sub: a.id, email: a.email, scope: a.scopes.join(' '), tier: a.tier }),
    user: { id: a.id, email: a.email, scopes: a.scopes, tier: a.tier }
  })

  app.get('/health', async () => ({ status: 'ok', service: 'auth' }))

  const credentials = {
    type: 'object',
    required: ['email', 'password'],
    properties: { email: { type: 'string', minLength: 3 }, password: { type: 'string', minLength: 8 } }
  }
  app.post('/register', { schema: { body: credentials } }, async (request, reply) => {
    const { email, password } = request.body as { email: string, password: string }
    if (accounts.has(email)) return reply.code(409).send({ error: 'email already registered' })
    return reply.code(201).send(issue(addAccount(email, password, ['users:read', 'orders:read', 'orders:write'], 'default')))
  })
  app.post('/login', { schema: { body: credentials } }, async (request, reply) => {
    const { email, password } = request.body as { email: string, password: string }
    const account = accounts.get(email)
    if (!account || !timingSafeEqual(scryptSync(password, account.salt, 32), account.hash)) {
      return reply.code(401).send({ error: 'invalid email or password' })
    }
    return issue(account)
  })
  app.post('/logout', async () => ({ ok: true }))
  // Who the gateway says is calling: the identity headers it set (never the client's own).
  app.get('/me', async (request) => ({
    id: request.headers['x-user-id'] ?? null,
    email: request.headers['x-user-email'] ?? null,
    scopes: (request.headers['x-user-scopes'] as string | undefined)?.split(' ').filter(Boolean) ?? [],
    tier: request.headers['x-user-tier'] ?? null
  }))
  app.post('/verify', async (request, reply) => {
    const token = (request.body as { token?: string } | undefined)?.token ?? request.headers.authorization?.replace(/^Bearer /i, '')
    try {
      const claims = verify(token ?? '') as { sub: string, email: string, scope: string, tier: string }
      return { user_id: claims.sub, email: claims.email, scopes: claims.scope.split(' '), tier: claims.tier }
    } catch {
      return reply.code(401).send({ error: 'invalid token' })
    }
  })
  return app
}
