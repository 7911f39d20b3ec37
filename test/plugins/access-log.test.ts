import t from 'tap'
import { Writable } from 'node:stream'
import { buildApp, REDACTED_LOG_PATHS } from '../../app.ts'
import { startUpstream, testConfig, testEnv, type TestContext } from '../helper.ts'
import { loadEnv } from '../../services/config/env.ts'

/** Builds the app with a real pino logger writing JSON lines into an array. */
async function buildLogged (t: TestContext, upstreamUrl: string, level: string) {
  const lines: Array<Record<string, unknown>> = []
  let raw = ''
  const stream = new Writable({
    write (chunk, _enc, cb) {
      raw += chunk.toString()
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line))
      cb()
    }
  })
  const app = await buildApp({
    env: testEnv({ LOG_LEVEL: level }),
    config: testConfig({
      services: { users: { url: upstreamUrl } },
      routes: [{ path: '/api/users/:id', service: 'users', upstreamPath: '/users/:id' }]
    }),
    logger: { level, stream, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }
  })
  t.teardown(() => app.close())
  await app.ready()
  return { app, lines, raw: () => raw }
}

const SECRETS = { authorization: 'Bearer secret-jwt-value', cookie: 'theme=dark; tracker=secret-cookie-value', 'x-api-key': 'secret-api-key', 'proxy-authorization': 'Basic secret-proxy' }

t.test('one JSON access line per request with the contract fields', async (t) => {
  const upstream = await startUpstream(t, (req, res) => {
    if (req.url === '/users/limited') {
      res.statusCode = 429
    } else if (req.url === '/users/cached') {
      res.setHeader('x-cache', 'HIT')
    }
    res.end('{}')
  })
  const { app, lines, raw } = await buildLogged(t, upstream.url, 'info')
  await app.inject({ url: '/api/users/7?token=query-secret', headers: { ...SECRETS, 'x-request-id': 'req-abc' } })
  await app.inject({ url: '/api/users/cached' })
  await app.inject({ url: '/api/users/limited' })
  await app.inject({ url: '/nowhere' })

  const access = lines.filter(l => l.msg === 'request completed')
  t.equal(access.length, 4, 'exactly one line per request')
  const first = access[0]
  t.match(first, {
    level: 30,
    requestId: 'req-abc',
    method: 'GET',
    path: '/api/users/7',
    route: '/api/users/:id',
    service: 'users',
    statusCode: 200,
    ip: '127.0.0.1'
  })
  t.type(first.responseTimeMs, 'number')
  t.notOk('traceId' in first, 'no trace id with tracing off')
  t.notOk('cache' in first, 'no cache field on a route that does not cache')
  t.notOk('rateLimited' in first)
  t.notOk('headers' in first, 'headers only at debug level')
  t.equal(access[1].cache, 'HIT', 'cache outcome from X-Cache')
  t.equal(access[2].rateLimited, true, '429 marked as rate limited')
  t.equal(access[3].route, undefined, 'an unmatched request has no route')
  t.equal(access[3].statusCode, 404)
  for (const secret of ['secret-jwt-value', 'secret-cookie-value', 'secret-api-key', 'secret-proxy', 'query-secret']) {
    t.notOk(raw().includes(secret), `${secret} is not logged`)
  }
})

t.test('debug level adds the request headers, credentials redacted', async (t) => {
  const upstream = await startUpstream(t)
  const { app, lines, raw } = await buildLogged(t, upstream.url, 'debug')
  await app.inject({ url: '/api/users/1', headers: { ...SECRETS, 'x-custom': 'visible' } })
  const line = lines.find(l => l.msg === 'request completed')!
  const headers = line.headers as Record<string, string>
  t.equal(headers['x-custom'], 'visible')
  t.equal(headers.authorization, '[REDACTED]')
  t.equal(headers.cookie, '[REDACTED]')
  t.equal(headers['x-api-key'], '[REDACTED]')
  t.equal(headers['proxy-authorization'], '[REDACTED]')
  t.notOk(/secret-/.test(raw()), 'no secret anywhere in the output')
})

t.test('LOG_LEVEL is respected: warn writes no access lines', async (t) => {
  const upstream = await startUpstream(t)
  const { app, lines } = await buildLogged(t, upstream.url, 'warn')
  await app.inject({ url: '/api/users/1' })
  t.equal(lines.filter(l => l.msg === 'request completed').length, 0)
})

t.test('OTEL_* variables are validated with the other env vars', async (t) => {
  t.throws(() => loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318' }), {
    message: /OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL starting with http:\/\/ or https:\/\/, got "jaeger:4318"/
  })
  const env = loadEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' })
  t.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318')
  t.equal(env.OTEL_SERVICE_NAME, 'portico')
})
