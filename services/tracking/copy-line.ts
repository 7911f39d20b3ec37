import { storedBody } from './capture.ts'
import { isSecretHeader, REDACTED } from './redact.ts'
import type { TrackedRequest } from './record.ts'
import type { NewRequestRow } from './schema.ts'

/** The columns of a line, in its order; insert.ts names them in the COPY statement. */
export const LINE_COLUMNS = [
  'request_id', 'created_at', 'method', 'path', 'query', 'route', 'service', 'status_code',
  'duration_ms', 'upstream_ms', 'ip', 'user_id', 'tier', 'user_agent', 'cache_status', 'rate_limit',
  'request_headers', 'request_body', 'request_body_truncated', 'bytes_in',
  'response_headers', 'response_body', 'response_body_truncated', 'bytes_out', 'error'
] as const satisfies ReadonlyArray<keyof NewRequestRow>

const NULL = '\\N'

/**
 * A tracked request as its line of PostgreSQL's COPY text format: tab-separated, `\N` for null,
 * ending in a newline. Built in one pass from what the request holds, with no row object, Date or
 * redacted copy of a header object in between: building the row is most of what tracking costs
 * the gateway, and this measured 5–8 µs a request less inside it than a row object turned into
 * a line (docs/tracking.md).
 */
export function requestLine (r: TrackedRequest): string {
  const url = r.url
  const q = url.indexOf('?')
  const reqHeaders = r.requestHeaders
  const resHeaders = r.responseHeaders
  const reqBody = r.requestBody
  const resBody = r.responseBody
  return copyText(r.requestId) + '\t' +
    isoTimestamp(r.startedAt) + '\t' +
    copyText(r.method) + '\t' +
    copyText(q === -1 ? url : url.slice(0, q)) + '\t' +
    (q === -1 ? NULL : copyText(url.slice(q + 1))) + '\t' +
    copyText(r.route) + '\t' +
    copyText(r.service) + '\t' +
    r.statusCode + '\t' +
    round2(r.durationMs) + '\t' +
    (r.upstreamMs === null ? NULL : round2(r.upstreamMs)) + '\t' +
    nullable(r.ip) + '\t' +
    nullable(r.userId) + '\t' +
    nullable(r.tier) + '\t' +
    nullable(header(reqHeaders, 'user-agent')) + '\t' +
    nullable(header(resHeaders, 'x-cache')) + '\t' +
    (r.statusCode === 429 ? 'limited' : header(resHeaders, 'ratelimit-remaining') !== undefined ? 'allowed' : NULL) + '\t' +
    copyJson(headersJson(reqHeaders)) + '\t' +
    nullable(storedBody(reqBody, header(reqHeaders, 'content-type'), header(reqHeaders, 'content-encoding'))) + '\t' +
    (reqBody !== null && reqBody.truncated ? 't' : 'f') + '\t' +
    (reqBody !== null ? reqBody.total : r.bytesIn) + '\t' +
    copyJson(headersJson(resHeaders)) + '\t' +
    nullable(storedBody(resBody, header(resHeaders, 'content-type'), header(resHeaders, 'content-encoding'))) + '\t' +
    (resBody !== null && resBody.truncated ? 't' : 'f') + '\t' +
    (resBody !== null ? resBody.total : (Number(header(resHeaders, 'content-length')) || 0)) + '\t' +
    nullable(r.error) + '\n'
}

function header (headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? String(value[0]) : String(value)
}

function round2 (n: number): number {
  return Math.round(n * 100) / 100
}

function nullable (text: string | null | undefined): string {
  return text === null || text === undefined ? NULL : copyText(text)
}

// In COPY text a backslash, newline, carriage return and tab must be escaped; PostgreSQL text
// cannot hold NUL at all, so it becomes U+FFFD.
const COPY_SPECIAL = /[\\\n\r\t\0]/
const COPY_SPECIALS = /[\\\n\r\t\0]/g
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\uFFFD' }
const copyEscape = (c: string): string => COPY_ESCAPES[c]

/** A text value as a COPY field. */
export function copyText (text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, copyEscape) : text
}

// JSON text has every control character escaped, so only its backslashes need COPY's escape.
function copyJson (json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json
}

// What JSON.stringify escapes in a string: quote, backslash, control characters, lone surrogates.
const JSON_SPECIAL = /["\\\u0000-\u001f\ud800-\udfff]/

function jsonString (text: string): string {
  return JSON_SPECIAL.test(text) ? JSON.stringify(text) : '"' + text + '"'
}

/**
 * The stored JSON of a header object: credentials redacted (contract §6), every value a string or
 * a list of strings. The same text as JSON.stringify of a redacted copy, written as it is
 * redacted, so no copy is made; it takes about as long as JSON.stringify of the object alone,
 * which V8 runs on its slow path for Node's null-prototype header objects.
 */
export function headersJson (headers: Record<string, unknown>): string {
  let out = '{'
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    out += (out.length === 1 ? '' : ',') + jsonString(name) + ':'
    if (isSecretHeader(name)) {
      out += '"' + REDACTED + '"'
    } else if (Array.isArray(value)) {
      out += '['
      for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + jsonString(String(value[i]))
      out += ']'
    } else {
      out += jsonString(typeof value === 'string' ? value : String(value))
    }
  }
  return out + '}'
}

// Rows of a batch fall within a few seconds: the date and time up to the second are formatted
// once per second, not by a toISOString per row.
let cachedSecond = NaN
let cachedPrefix = ''

/** `new Date(ms).toISOString()`, for the timestamps of this era (4-digit years). */
export function isoTimestamp (ms: number): string {
  const time = Math.trunc(ms) // as Date's time value
  const second = Math.floor(time / 1000)
  if (second !== cachedSecond) {
    if (!Number.isFinite(second)) return new Date(ms).toISOString()
    cachedSecond = second
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20)
  }
  const millis = time - second * 1000
  return cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
}
