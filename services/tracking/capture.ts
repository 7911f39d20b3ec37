import { isUtf8 } from 'node:buffer'
import type { Readable } from 'node:stream'
import { redactBody } from './redact.ts'

/**
 * The first `max` bytes of a body, and how many bytes it had in all. Filled from a buffer or
 * string the gateway already holds, or by listening to a stream that is flowing anyway: the
 * proxy's streams are never buffered whole or slowed down for tracking.
 */
export class BodyCapture {
  chunks: Buffer[] = []
  /** Bytes kept (≤ max). */
  kept = 0
  /** Bytes seen in all. */
  total = 0
  /** The payload as a string when it was one (error bodies): no copy needed. */
  text: string | undefined = undefined

  constructor (readonly max: number) {}

  get truncated (): boolean {
    return this.total > this.kept
  }

  add (chunk: Buffer): void {
    this.total += chunk.length
    const room = this.max - this.kept
    if (room <= 0) return
    // A view, not a copy: a capture lives only until its request ends and its row is encoded
    // (the queue holds the encoded row), and a stream's consumers never get a chunk back to reuse.
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room)
    this.chunks.push(part)
    this.kept += part.length
  }

  addString (text: string): void {
    const bytes = Buffer.byteLength(text)
    if (bytes <= this.max - this.kept && this.chunks.length === 0 && this.text === undefined) {
      this.text = text
      this.kept = bytes
      this.total = bytes
      return
    }
    this.add(Buffer.from(text))
  }
}

const kCapture = Symbol('portico.tracking.capture')
type Tapped = Readable & { [kCapture]?: BodyCapture }

/**
 * Copies what flows through `stream` into `capture`, without changing when or how fast it flows.
 * Readable's own `on('data')` would switch the stream to flowing mode before its consumer is
 * attached (and lose chunks); `prependListener` is EventEmitter's, so the listener only watches:
 * a stream emits 'data' for every chunk its consumer takes, piped, read() or async-iterated. The
 * listener is a module function: no closure per request.
 */
export function tapStream (stream: Readable, capture: BodyCapture): void {
  (stream as Tapped)[kCapture] = capture
  stream.prependListener('data', onData)
}

function onData (this: Tapped, chunk: Buffer | string): void {
  const capture = this[kCapture]
  if (capture === undefined) return
  if (typeof chunk === 'string') capture.addString(chunk)
  else capture.add(chunk)
}

export type BodyKind = 'json' | 'form' | 'text' | 'binary'

const JSON_TYPE = /[/+]json\b/
const TEXT_TYPE = /^text\/|[/+]xml\b|javascript|graphql|yaml|csv/

export function bodyKind (contentType: string | undefined, sample: Buffer | string): BodyKind {
  const type = (contentType ?? '').toLowerCase()
  if (JSON_TYPE.test(type)) return 'json'
  if (type.startsWith('application/x-www-form-urlencoded')) return 'form'
  if (TEXT_TYPE.test(type)) return 'text'
  if (type !== '') return 'binary'
  // No content type: text if it decodes, JSON if it looks like it.
  if (typeof sample !== 'string' && !isUtf8(sample)) return 'binary'
  const first = (typeof sample === 'string' ? sample : sample.toString('utf8', 0, 64)).trimStart()[0]
  return first === '{' || first === '[' ? 'json' : 'text'
}

/**
 * The stored form of a captured body: text (credentials redacted, NULs replaced as PostgreSQL
 * text cannot hold them), a short note for binary or compressed bodies, null for none.
 */
export function storedBody (capture: BodyCapture | null | undefined, contentType: string | undefined, contentEncoding: string | undefined): string | null {
  if (!capture || capture.total === 0) return null
  if (contentEncoding && contentEncoding !== 'identity') return `[${contentEncoding}-encoded body, ${capture.total} bytes]`
  const raw = capture.text ?? (capture.chunks.length === 1 ? capture.chunks[0] : Buffer.concat(capture.chunks, capture.kept))
  const kind = bodyKind(contentType, typeof raw === 'string' ? raw : raw.subarray(0, Math.min(raw.length, 4096)))
  if (kind === 'binary') return `[binary body${contentType ? ` (${contentType})` : ''}, ${capture.total} bytes]`
  let text = typeof raw === 'string' ? raw : raw.toString('utf8')
  if (text.includes('\u0000')) text = text.replaceAll('\u0000', '\uFFFD')
  return kind === 'text' ? text : redactBody(text, kind, !capture.truncated)
}
