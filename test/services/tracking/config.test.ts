import t from 'tap'
import { parseConfig } from '../../../services/config/load-config.ts'
import { loadEnv } from '../../../services/config/env.ts'
import { exampleConfigPath } from '../../../examples/services/index.ts'
import { loadConfigFile } from '../../../services/config/load-config.ts'

const config = (route: Record<string, unknown>) => JSON.stringify({ services: { s: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/x', service: 's', ...route }] })

t.test('route key track: default true, false kept, anything else named', async (t) => {
  t.equal(parseConfig(config({}), 'c.json').routes[0].track, true)
  t.equal(parseConfig(config({ track: false }), 'c.json').routes[0].track, false)
  t.throws(() => parseConfig(config({ track: 'no' }), 'c.json'), { message: 'Invalid config file c.json:\n  - routes[0].track: expected true or false, got "no"' })
})

t.test('tracking env: defaults and bad values', async (t) => {
  const env = loadEnv({})
  t.match(env, {
    DATABASE_URL: undefined, DATA_DIR: './data', TRACKING_ENABLED: true, TRACKING_MAX_BODY: 16_384,
    TRACKING_QUEUE_MAX: 50_000, TRACKING_BATCH_SIZE: 500, TRACKING_FLUSH_INTERVAL: 200, TRACKING_RETENTION: 30 * 86_400_000
  })
  t.equal(loadEnv({ DATABASE_URL: 'postgresql://u@h/db' }).DATABASE_URL, 'postgresql://u@h/db')
  t.throws(() => loadEnv({ DATABASE_URL: 'mysql://h/db' }), { message: /DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\/, got "mysql:\/\/h\/db"/ })
  t.throws(() => loadEnv({ TRACKING_QUEUE_MAX: '0' }), { message: /TRACKING_QUEUE_MAX: expected an integer from 1 to 10000000, got "0"/ })
  t.throws(() => loadEnv({ TRACKING_BATCH_SIZE: '5000' }), { message: /TRACKING_BATCH_SIZE: expected an integer from 1 to 2000, got "5000"/ })
  t.throws(() => loadEnv({ TRACKING_RETENTION: 'forever' }), { message: /TRACKING_RETENTION: expected a duration like/ })
  t.throws(() => loadEnv({ TRACKING_MAX_BODY: 'big' }), { message: /TRACKING_MAX_BODY: expected a size like/ })
  t.throws(() => loadEnv({ TRACKING_ENABLED: 'maybe' }), { message: /TRACKING_ENABLED: expected true or false, got "maybe"/ })
})

t.test('the example config turns tracking off on the login route only', async (t) => {
  const example = loadConfigFile(exampleConfigPath)
  t.same(example.routes.filter(r => !r.track).map(r => r.path), ['/auth/login'])
})
