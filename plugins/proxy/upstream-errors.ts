import { BadGatewayError, UpstreamTimeoutError, UpstreamUnavailableError } from '../../errors.ts'

const UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])
const TIMED_OUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT', 'FST_REPLY_FROM_REQUEST_TIMEOUT'])

export type UpstreamFailure = 'unavailable' | 'timeout' | 'bad-response'

/** What went wrong with an upstream call, from undici's error (or one of its causes). */
export function classifyUpstreamError (error: unknown): UpstreamFailure | Error {
  for (let err = error as (Error & { code?: string, statusCode?: number }) | undefined, depth = 0; err && depth < 5; err = err.cause as typeof err, depth++) {
    const code = err.code ?? ''
    // Our own errors (413 from a streamed body past its limit) pass through unchanged.
    if (code.startsWith('PORTICO_ERR_')) return err
    if (TIMED_OUT.has(code)) return 'timeout'
    if (UNAVAILABLE.has(code)) return 'unavailable'
    if (code.startsWith('HPE_') || code === 'UND_ERR_SOCKET' || code === 'FST_REPLY_FROM_BAD_GATEWAY' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return 'bad-response'
  }
  return 'bad-response'
}

/** The client-facing error for an upstream failure, keeping the original as `cause`. */
export function upstreamError (service: string, error: unknown): Error {
  const kind = classifyUpstreamError(error)
  if (kind instanceof Error) return kind
  const mapped = kind === 'timeout'
    ? new UpstreamTimeoutError(service)
    : kind === 'unavailable' ? new UpstreamUnavailableError(service) : new BadGatewayError(service)
  mapped.cause = error
  return mapped
}
