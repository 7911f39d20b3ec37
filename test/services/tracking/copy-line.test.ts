import t from 'tap'
import { getTableColumns } from 'drizzle-orm'
import { headersJson, isoTimestamp, LINE_COLUMNS, requestLine } from '../../../services/tracking/copy-line.ts'
import { BodyCapture } from '../../../services/tracking/capture.ts'
import type { TrackedRequest } from '../../../services/tracking/record.ts'
type Asserts = Pick<typeof t, 'equal'>
import { requests } from '../../../services/tracking/schema.ts'

function tracked (extra: Partial<TrackedRequest> = {}): TrackedRequest {
  return {
    requestId: 'req-1', startedAt: Date.UTC(2026, 10, 27, 9, 4, 46, 57), method: 'GET', url: '/p', route: '/p', service: 's',
    statusCode: 200, durationMs: 1, upstreamMs: null, ip: undefined, userId: null, tier: null, requestHeaders: {},
    requestBody: null, bytesIn: 0, responseHeaders: {}, responseBody: null, error: null, ...extra
  }
}

/** A line's fields by column, COPY's escapes undone (`\N` as null). */
function fields (t: Asserts, line: string): Record<string, string | null> {
  t.equal(line.at(-1), '\n', 'a line ends in a newline')
  const values = line.slice(0, -1).split('\t')
  t.equal(values.length, LINE_COLUMNS.length, 'a field per column')
  const unescape = (v: string): string => v.replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c)
  return Object.fromEntries(LINE_COLUMNS.map((column, i) => [column, values[i] === '\\N' ? null : unescape(values[i])]))
}

t.test('a line has every column of the table but its generated id', async (t) => {
  const columns = Object.keys(getTableColumns(requests)).filter(key => key !== 'id')
  t.same([...LINE_COLUMNS].sort(), columns.sort())
})

t.test('a line holds the request: path and query apart, timings rounded, identity, outcome', async (t) => {
  const body = new BodyCapture(4)
  body.add(Buffer.from('a=1&b=2'))
  const line = fields(t, requestLine(tracked({
    url: '/orders/7?x=1&y=\t2', method: 'POST', statusCode: 429, durationMs: 12.3456, upstreamMs: 0.004, ip: '10.0.0.1',
    userId: 'u1', tier: 'premium', requestHeaders: { 'user-agent': 'curl/8', 'content-type': 'text/plain' }, requestBody: body,
    responseHeaders: { 'x-cache': 'MISS', 'content-length': 12 }, error: 'E: bad\nthing'
  })))
  t.same(line, {
    request_id: 'req-1', created_at: '2026-11-27T09:04:46.057Z', method: 'POST', path: '/orders/7', query: 'x=1&y=\t2', route: '/p',
    service: 's', status_code: '429', duration_ms: '12.35', upstream_ms: '0', ip: '10.0.0.1', user_id: 'u1', tier: 'premium',
    user_agent: 'curl/8', cache_status: 'MISS', rate_limit: 'limited',
    request_headers: '{"user-agent":"curl/8","content-type":"text/plain"}', request_body: 'a=1&', request_body_truncated: 't', bytes_in: '7',
    response_headers: '{"x-cache":"MISS","content-length":"12"}', response_body: null, response_body_truncated: 'f', bytes_out: '12',
    error: 'E: bad\nthing'
  })
  const plain = fields(t, requestLine(tracked({ bytesIn: 5, responseHeaders: { 'ratelimit-remaining': '4' } })))
  t.equal(plain.query, null, 'no query string is NULL, not empty')
  t.equal(plain.upstream_ms, null)
  t.equal(plain.user_agent, null)
  t.equal(plain.rate_limit, 'allowed', 'a limited route that let the request through')
  t.equal(plain.bytes_in, '5', 'Content-Length when no capture saw the body')
  t.equal(fields(t, requestLine(tracked())).rate_limit, null, 'an unlimited route')
})

t.test('headers: credentials replaced whatever their case, numbers and lists kept as strings', async (t) => {
  const headers = { Authorization: 'Bearer x', cookie: 'a=b', 'set-cookie': ['a', 'b'], 'X-API-Key': 'k', 'Proxy-Authorization': 'p', 'content-length': 12, via: ['1', 2], gone: undefined }
  t.same(JSON.parse(headersJson(headers)), {
    Authorization: '[REDACTED]', cookie: '[REDACTED]', 'set-cookie': '[REDACTED]', 'X-API-Key': '[REDACTED]', 'Proxy-Authorization': '[REDACTED]', 'content-length': '12', via: ['1', '2']
  })
  t.same(headers.cookie, 'a=b', 'the header object is never changed')
})

t.test('headers: the JSON text is JSON.stringify\'s, whatever the values hold', async (t) => {
  const awkward = ['plain', 'quote " and back\\slash', 'tab\there', 'nul\u0000 and \u001f', 'é 日本 🚀', 'lone \ud800 surrogate', '']
  for (const value of awkward) {
    const headers = Object.assign(Object.create(null) as Record<string, unknown>, { 'x-a': value, [`x-${value}`]: [value, value] })
    t.equal(headersJson(headers), JSON.stringify({ 'x-a': value, [`x-${value}`]: [value, value] }), JSON.stringify(value))
  }
  t.equal(headersJson({}), '{}')
})

t.test('a header value with a backslash or tab survives the line\'s COPY escaping as JSON', async (t) => {
  const headers = { 'x-odd': 'a\tb\\c"d' }
  const line = fields(t, requestLine(tracked({ requestHeaders: headers })))
  t.same(JSON.parse(line.request_headers!), headers)
})

t.test('isoTimestamp formats as Date#toISOString does, across seconds and with fractional milliseconds', async (t) => {
  const now = Date.now()
  const times = [0, 999, 1000, 1001.999, -1, -1500.5, now, now + 0.75, now + 999, now + 1000, now - 86_400_000, 4_102_444_799_999.5]
  for (let i = 0; i < 2000; i++) times.push(Math.random() * 4e12, now + (Math.random() - 0.5) * 10_000)
  const wrong = times.filter(ms => isoTimestamp(ms) !== new Date(ms).toISOString())
  t.same(wrong, [], 'no time formats differently')
  t.equal(isoTimestamp(Date.UTC(2026, 10, 27, 9, 4, 46, 57) + 0.52), '2026-11-27T09:04:46.057Z')
})
