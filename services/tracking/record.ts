import { redactHeaders } from './redact.ts'
import { storedBody, type BodyCapture } from './capture.ts'
import type { NewRequestRow } from './schema.ts'

/**
 * What the request path hands the writer: references to what the request already holds, plus
 * the body captures. `toRow` (redaction, body decoding) and the COPY line are built from it when
 * the request has ended; only the line is queued.
 */
export interface TrackedRequest {
  requestId: string
  startedAt: number
  method: string
  url: string
  route: string
  service: string
  statusCode: number
  durationMs: number
  upstreamMs: number | null
  ip: string | undefined
  userId: string | null
  tier: string | null
  requestHeaders: Record<string, unknown>
  requestBody: BodyCapture | null
  /** Body size when no capture saw the bytes (Content-Length). */
  bytesIn: number
  responseHeaders: Record<string, unknown>
  responseBody: BodyCapture | null
  error: string | null
}

/**
 * An allowance for a row's fields and headers beside its bodies and URL: the start-up check that
 * the queue's byte bound can hold the largest ordinary row uses it.
 */
export const ROW_OVERHEAD_BYTES = 2048

export function toRow (r: TrackedRequest): NewRequestRow {
  const q = r.url.indexOf('?')
  const reqType = header(r.requestHeaders, 'content-type')
  const resType = header(r.responseHeaders, 'content-type')
  const xCache = header(r.responseHeaders, 'x-cache')
  return {
    request_id: r.requestId,
    created_at: new Date(r.startedAt),
    method: r.method,
    path: q === -1 ? r.url : r.url.slice(0, q),
    query: q === -1 ? null : r.url.slice(q + 1),
    route: r.route,
    service: r.service,
    status_code: r.statusCode,
    duration_ms: round2(r.durationMs),
    upstream_ms: r.upstreamMs === null ? null : round2(r.upstreamMs),
    ip: r.ip ?? null,
    user_id: r.userId,
    tier: r.tier,
    user_agent: header(r.requestHeaders, 'user-agent') ?? null,
    cache_status: xCache ?? null,
    rate_limit: r.statusCode === 429 ? 'limited' : header(r.responseHeaders, 'ratelimit-remaining') !== undefined ? 'allowed' : null,
    request_headers: redactHeaders(r.requestHeaders),
    request_body: storedBody(r.requestBody, reqType, header(r.requestHeaders, 'content-encoding')),
    request_body_truncated: r.requestBody?.truncated ?? false,
    bytes_in: r.requestBody?.total ?? r.bytesIn,
    response_headers: redactHeaders(r.responseHeaders),
    response_body: storedBody(r.responseBody, resType, header(r.responseHeaders, 'content-encoding')),
    response_body_truncated: r.responseBody?.truncated ?? false,
    bytes_out: r.responseBody?.total ?? (Number(header(r.responseHeaders, 'content-length')) || 0),
    error: r.error
  }
}

function header (headers: Record<string, unknown>, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined || value === null) return undefined
  return Array.isArray(value) ? String(value[0]) : String(value)
}

function round2 (n: number): number {
  return Math.round(n * 100) / 100
}
