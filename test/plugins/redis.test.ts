import t from 'tap'
import { buildApp } from '../../app.ts'
import { build, freePort, REDIS_URL, testConfig, testEnv, uniquePrefix } from '../helper.ts'

const config = { services: { u: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/api/x', service: 'u' }] }

t.test('without REDIS_URL the shared store is in-process memory', async (t) => {
  const app = await build(t, { config })
  t.equal(app.storeIsShared, false)
  t.notOk(app.hasDecorator('redis'))
  await app.store.child('t').set('k', 'v', 0)
  t.same(await app.store.child('t').get('k'), Buffer.from('v'))
})

t.test('with REDIS_URL: a Redis store under REDIS_KEY_PREFIX, a readiness check, a clean close', { skip: REDIS_URL ? false : 'skipped: set REDIS_URL to run the Redis plugin test' }, async (t) => {
  const prefix = uniquePrefix('redis-plugin')
  const app = await build(t, { env: { REDIS_URL: REDIS_URL!, REDIS_KEY_PREFIX: prefix }, config })
  t.equal(app.storeIsShared, true)
  await app.store.child('t').set('k', 'v', 10_000)
  t.equal(await app.redis.get(`${prefix}:t:k`), 'v')
  await app.redis.del(`${prefix}:t:k`)
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.json().checks.redis.status, 'up')
})

t.test('an unreachable Redis at start-up fails with a message naming it, password hidden', async (t) => {
  const port = await freePort()
  await t.rejects(buildApp({ env: testEnv({ REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }), config: testConfig(config) }).then(app => app.ready()), {
    message: `cannot reach Redis at redis://:***@127.0.0.1:${port} (REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}`
  })
})

t.test('app.close() finishes promptly while Redis is unreachable', { skip: REDIS_URL ? false : 'skipped: set REDIS_URL to run the Redis outage close test' }, async (t) => {
  const { startTcpProxy } = await import('../tcp-proxy.ts')
  const target = new URL(REDIS_URL!)
  const proxy = await startTcpProxy(t, target.hostname, Number(target.port || 6379))
  const app = await buildApp({ env: testEnv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, REDIS_KEY_PREFIX: uniquePrefix('close') }), config: testConfig(config) })
  await app.ready()
  proxy.cut()
  await t.rejects(app.redis.ping())
  const started = Date.now()
  await app.close()
  t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started}ms`)
})
