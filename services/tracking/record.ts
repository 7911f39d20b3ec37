import type { BodyCapture } from './capture.ts'

/**
 * What the request path hands the writer: references to what the request already holds, plus
 * the body captures. Its COPY line (copy-line.ts: redaction, body decoding) is built from it when
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
