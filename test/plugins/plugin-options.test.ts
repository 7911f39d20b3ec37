import t from 'tap'
import Fastify from 'fastify'
import { Type } from '@sinclair/typebox'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import readiness from '../../plugins/readiness/index.ts'
import { registerInfrastructure } from '../../app.ts'
import { testEnv } from '../helper.ts'
import redis from '../../plugins/redis/index.ts'
import upstream from '../../plugins/upstream/index.ts'
import proxy from '../../plugins/proxy/index.ts'
import auth, { authOptions } from '../../plugins/auth/index.ts'
import { parseConfig } from '../../services/config/load-config.ts'

t.test('checkPluginOptions fills defaults on a copy, names every problem, freezes the result', async (t) => {
  const schema = Type.Object({ a: Type.Integer({ minimum: 1 }), b: Type.String({ default: 'x' }) }, { additionalProperties: false })
  const raw = { a: 2 }
  const opts = checkPluginOptions('p', schema, raw)
  t.same(opts, { a: 2, b: 'x' })
  t.same(raw, { a: 2 }, 'the caller\'s object is left as it was')
  t.ok(Object.isFrozen(opts))
  t.throws(() => checkPluginOptions('p', schema, { a: 0, c: 1 }), { message: /^p: invalid options: (?=.*\/a: Expected integer to be greater or equal to 1)(?=.*\/c: Unexpected property)/ })
  t.throws(() => checkPluginOptions('p', schema, undefined), { message: /^p: invalid options: \(options\): Expected object/ })
})

const config = parseConfig(JSON.stringify({ services: { s: { url: 'http://127.0.0.1:9' } }, routes: [{ path: '/a', service: 's' }] }), 'options.json')

/** How registering ends: 'registered', or the error's message. Redis alone, or on the app's infrastructure. */
async function registrationError (register: (app: ReturnType<typeof Fastify>) => void, infrastructure = false): Promise<string> {
  const app = Fastify({ logger: false })
  if (infrastructure) await registerInfrastructure(app, testEnv())
  else await app.register(readiness)
  register(app)
  try {
    await app.ready()
    return 'registered'
  } catch (err) {
    return (err as Error).message
  } finally {
    await app.close()
  }
}

t.test('the redis, upstream and proxy plugins refuse bad options at registration, saying which', async (t) => {
  t.match(await registrationError(app => app.register(redis, { url: 'http://127.0.0.1:6379', keyPrefix: 'p' })), /^portico-redis: invalid options: \/url: /)
  t.match(await registrationError(app => app.register(redis, { keyPrefix: '' })), /^portico-redis: invalid options: \/keyPrefix: /)
  t.match(await registrationError(app => app.register(upstream, { config, upstreamTimeout: 1000, registryRefreshInterval: 0 }), true), /^portico-upstream: invalid options: \/registryRefreshInterval: Expected integer to be greater or equal to 1/)
  t.match(await registrationError(app => app.register(proxy, { config, upstreamTimeout: -1, bodyLimit: 1.5 }), true), /^portico-proxy: invalid options: \/upstreamTimeout: .*; \/bodyLimit: Expected integer/)
  t.match(await registrationError(app => app.register(proxy, { config: { services: {} } as never, upstreamTimeout: 1, bodyLimit: 1 }), true), /^portico-proxy: invalid options: \/config/)
  t.equal(await registrationError(app => app.register(proxy, { config, upstreamTimeout: 0, bodyLimit: 1024 }), true), 'registered', 'good options register (a 0 timeout means no deadline)')
})

t.test('the auth plugin refuses bad options at registration, saying which; the env\'s own options register', async (t) => {
  const good = authOptions(testEnv({ JWT_SECRET: 'a-secret-of-at-least-thirty-two-bytes!!', AUTH_VERIFY_URL: 'http://127.0.0.1:9/verify' }))
  t.equal(await registrationError(app => app.register(auth, good), true), 'registered')
  t.match(await registrationError(app => app.register(auth, { ...good, session: { ...good.session, ttl: 0 } }), true), /^portico-auth: invalid options: \/session\/ttl: Expected integer to be greater or equal to 1/)
  t.match(await registrationError(app => app.register(auth, { ...good, verify: { url: 'ftp://x', cacheTtl: -1, timeout: 1000 } }), true), /^portico-auth: invalid options: (?=.*\/verify\/url: )(?=.*\/verify\/cacheTtl: )/)
  t.match(await registrationError(app => app.register(auth, { ...good, session: { ...good.session, cookie: 'a b' } }), true), /^portico-auth: invalid options: \/session\/cookie: /)
})
