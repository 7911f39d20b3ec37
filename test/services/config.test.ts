import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { loadConfigFile, parseConfig, formatPath } from '../../services/config/load-config.ts'
import { loadEnv } from '../../services/config/env.ts'
import { ConfigError } from '../../services/config/config-error.ts'
import { parseDuration, parseSize } from '../../services/config/units.ts'
import { exampleConfigPath } from '../../examples/services/index.ts'
import { RouteSchema } from '../../schemas/config.ts'

const dir = mkdtempSync(join(tmpdir(), 'portico-config-'))
function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function problemsOf (fn: () => unknown): string[] {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('expected a ConfigError')
}

const services = { users: { url: 'http://127.0.0.1:8001' } }

t.test('units', async (t) => {
  t.equal(parseDuration('500ms'), 500)
  t.equal(parseDuration('10s'), 10_000)
  t.equal(parseDuration('1.5m'), 90_000)
  t.equal(parseDuration('1d'), 86_400_000)
  t.equal(parseDuration('250'), 250)
  t.equal(parseDuration(250), 250)
  t.ok(Number.isNaN(parseDuration('10 parsecs')))
  t.ok(Number.isNaN(parseDuration(-1)))
  t.equal(parseSize('512kb'), 524_288)
  t.equal(parseSize('1mb'), 1_048_576)
  t.equal(parseSize('1MB'), 1_048_576)
  t.ok(Number.isNaN(parseSize('1 banana')))
})

t.test('formatPath writes JSON pointers the way users read them', async (t) => {
  t.equal(formatPath('/routes/3/cache/ttl'), 'routes[3].cache.ttl')
  t.equal(formatPath('/services/users/url'), 'services.users.url')
  t.equal(formatPath(''), '(top level)')
})

t.test('the bundled example config is valid', async (t) => {
  const config = loadConfigFile(exampleConfigPath)
  t.ok(config.routes.length >= 5)
  t.ok(config.services.users)
})

t.test('YAML and JSON both load, with defaults filled in', async (t) => {
  const yaml = loadConfigFile(file('ok.yaml', `services:\n  users: { url: "http://127.0.0.1:8001/", timeout: 2s }\nroutes:\n  - { path: /api/users/:id, service: users, upstreamPath: /users/:id, timeout: 500ms }\n`))
  t.same(yaml.services.users, { name: 'users', url: 'http://127.0.0.1:8001', urls: ['http://127.0.0.1:8001'], timeout: 2000, retries: 0, balance: 'round-robin', health: undefined, circuitBreaker: { failureThreshold: 5, resetTimeout: 30_000 } })
  t.equal(yaml.routes[0].timeout, 500)
  t.same(yaml.routes[0].methods, ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
  t.same(yaml.routes[0].tags, ['users'])
  const json = loadConfigFile(file('ok.json', JSON.stringify({ services, routes: [{ path: '/a', service: 'users' }] })))
  t.equal(json.routes[0].upstreamPath, '/a')
})

t.test('bad config files give one message per problem, naming file, path and expectation', async (t) => {
  const bad = file('bad.yaml', [
    'services:',
    '  users: { url: "http://127.0.0.1:8001", timeout: 5x }',
    'routes:',
    '  - { path: /a, service: users, foo: 1 }',
    '  - { path: /b, service: users, methods: [GET, FETCH] }',
    '  - { path: /c, service: users, timeout: soon }',
    '  - { service: users }'
  ].join('\n'))
  try {
    loadConfigFile(bad)
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    const message = (err as Error).message
    t.match(message, `Invalid config file ${bad}:`)
    t.same((err as ConfigError).problems, [
      'services.users.timeout: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "5x"',
      `routes[0].foo: unknown key; expected one of ${Object.keys(RouteSchema.properties).join(', ')}`,
      'routes[1].methods[1]: expected "GET" or "HEAD" or "POST" or "PUT" or "PATCH" or "DELETE" or "OPTIONS", got "FETCH"',
      'routes[2].timeout: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "soon"',
      'routes[3].path: is required'
    ])
  }
})

t.test('semantic errors: unknown service, wildcards, params, duplicates, JSON Schemas', async (t) => {
  t.same(problemsOf(() => parseConfig(JSON.stringify({
    services,
    routes: [
      { path: '/a', service: 'nope' },
      { path: '/files/*', service: 'users', upstreamPath: '/files' },
      { path: '/u/:id', service: 'users', upstreamPath: '/users/:userId' },
      { path: '/d', service: 'users', methods: ['GET'] },
      { path: '/d', service: 'users', methods: ['POST', 'GET'] },
      { path: '/s', service: 'users', schema: { body: { type: 'objekt' } } }
    ]
  }), 'x.json')), [
    'routes[0].service: unknown service "nope"; expected one of users',
    'routes[1].upstreamPath: a wildcard route needs an upstreamPath ending in *, got "/files"',
    'routes[2].upstreamPath: parameter :userId is not in the route path "/u/:id"',
    'routes[4]: GET /d is already declared by routes[3]',
    'routes[5].schema.body: invalid JSON Schema: schema is invalid: data/type must be equal to one of the allowed values, data/type must be array, data/type must match a schema in anyOf'
  ])
})

t.test('unparseable files and missing files', async (t) => {
  const yamlProblems = problemsOf(() => loadConfigFile(file('broken.yaml', 'services: [\n')))
  t.match(yamlProblems[0], /^not valid YAML at line \d+, column \d+: /)
  t.match(problemsOf(() => loadConfigFile(file('broken.json', '{"services":')))[0], /^not valid JSON: /)
  t.match(problemsOf(() => loadConfigFile(join(dir, 'missing.yaml')))[0], /ENOENT/)
  t.same(problemsOf(() => parseConfig('[]', 'x.yaml')), ['(top level): expected an object with `services` and `routes`'])
  t.same(problemsOf(() => parseConfig('services: {}\n', 'x.yaml')), ['routes: is required'])
})

t.test('env: defaults, units, and one message naming each bad variable', async (t) => {
  const env = loadEnv({ UPSTREAM_TIMEOUT: '2s', BODY_LIMIT: '512kb', TRUST_PROXY: '2', PORT: '9000' })
  t.equal(env.UPSTREAM_TIMEOUT, 2000)
  t.equal(env.BODY_LIMIT, 524_288)
  t.equal(env.TRUST_PROXY, 2)
  t.equal(env.PORT, 9000)
  t.equal(env.HOST, '0.0.0.0')
  t.equal(env.REDIS_KEY_PREFIX, 'gateway')
  t.equal(loadEnv({ TRUST_PROXY: 'true' }).TRUST_PROXY, true)
  t.equal(loadEnv({ TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).TRUST_PROXY, '10.0.0.0/8,127.0.0.1')
  t.same(problemsOf(() => loadEnv({ PORT: 'eighty', UPSTREAM_TIMEOUT: '10 parsecs', BODY_LIMIT: 'huge', LOG_LEVEL: 'loud', REDIS_URL: 'http://localhost' })), [
    'PORT: expected an integer from 0 to 65535, got "eighty"',
    'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    'UPSTREAM_TIMEOUT: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "10 parsecs"',
    'BODY_LIMIT: expected a size like 512kb, 1mb or a number of bytes, got "huge"',
    'REDIS_URL: expected a URL starting with redis:// or rediss://, got "http://localhost"'
  ])
})

const root = join(import.meta.dirname, '..', '..')

t.test('the server exits 1 with the message and no stack trace on a bad env or config', async (t) => {
  const badEnv = spawnSync(process.execPath, ['--import', 'tsx', 'server.ts'], { cwd: root, env: { ...process.env, PORT: 'x', GATEWAY_CONFIG: exampleConfigPath }, encoding: 'utf8' })
  t.equal(badEnv.status, 1)
  t.equal(badEnv.stderr, 'Invalid environment:\n  - PORT: expected an integer from 0 to 65535, got "x"\n')
  const badFile = file('server-bad.yaml', 'services: {}\nroutes:\n  - { path: /a, service: ghost }\n')
  const badConfig = spawnSync(process.execPath, ['--import', 'tsx', 'server.ts'], { cwd: root, env: { ...process.env, GATEWAY_CONFIG: badFile }, encoding: 'utf8' })
  t.equal(badConfig.status, 1)
  t.equal(badConfig.stderr, `Invalid config file ${badFile}:\n  - routes[0].service: unknown service "ghost"; expected one of (no services defined)\n`)
})

t.test('portico check prints the same messages', async (t) => {
  const good = spawnSync(process.execPath, ['bin/portico.js', 'check', exampleConfigPath], { cwd: root, encoding: 'utf8' })
  t.equal(good.status, 0)
  t.match(good.stdout, /OK \(4 services, \d+ routes\)/)
  const badFile = file('check-bad.yaml', 'services: {}\nroutes:\n  - { path: /a, service: ghost }\n')
  const bad = spawnSync(process.execPath, ['bin/portico.js', 'check', badFile], { cwd: root, encoding: 'utf8' })
  t.equal(bad.status, 1)
  t.equal(bad.stderr, `Invalid config file ${badFile}:\n  - routes[0].service: unknown service "ghost"; expected one of (no services defined)\n`)
  const usage = spawnSync(process.execPath, ['bin/portico.js'], { cwd: root, encoding: 'utf8' })
  t.equal(usage.status, 2)
})
