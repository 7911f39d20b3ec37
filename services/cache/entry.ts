import { createHash } from 'node:crypto'

/**
 * One cached response. Stored as bytes: a version byte, the length of a small JSON head, the head
 * (status, headers, times, ETag, secondary vary values), then the body exactly as the upstream
 * sent it, so a body is never re-encoded and a hit sends a slice of what the store returned.
 */
export interface CacheEntry {
  status: number
  /** Response headers as the upstream sent them (minus hop-by-hop and per-request ones). */
  headers: Record<string, string | string[]>
  body: Buffer
  /** When it was stored (ms since the epoch). */
  storedAt: number
  /** Fresh until then (ms); after that it is stale and only served while someone refreshes it. */
  freshUntil: number
  /** The upstream's ETag, or one computed from the body. */
  etag: string
  /** Request header values the upstream's own `Vary` named beyond the route's `vary` (lowercase names). */
  vary: Record<string, string> | null
}

const FORMAT_VERSION = 1
const HEAD_OFFSET = 5

interface Head { s: number, h: Record<string, string | string[]>, t: number, f: number, e: string, v: Record<string, string> | null }

export function encodeEntry (entry: CacheEntry): Buffer {
  const head: Head = { s: entry.status, h: entry.headers, t: entry.storedAt, f: entry.freshUntil, e: entry.etag, v: entry.vary }
  const json = JSON.stringify(head)
  const headLength = Buffer.byteLength(json)
  const out = Buffer.allocUnsafe(HEAD_OFFSET + headLength + entry.body.length)
  out[0] = FORMAT_VERSION
  out.writeUInt32BE(headLength, 1)
  out.write(json, HEAD_OFFSET, 'utf8')
  entry.body.copy(out, HEAD_OFFSET + headLength)
  return out
}

/** The entry, or null for bytes this version cannot read (another format, truncated). */
export function decodeEntry (buf: Buffer): CacheEntry | null {
  if (buf.length < HEAD_OFFSET || buf[0] !== FORMAT_VERSION) return null
  const headLength = buf.readUInt32BE(1)
  if (HEAD_OFFSET + headLength > buf.length) return null
  let head: Head
  try {
    head = JSON.parse(buf.toString('utf8', HEAD_OFFSET, HEAD_OFFSET + headLength))
  } catch {
    return null
  }
  return { status: head.s, headers: head.h, body: buf.subarray(HEAD_OFFSET + headLength), storedAt: head.t, freshUntil: head.f, etag: head.e, vary: head.v }
}

/** A strong ETag from the body's bytes, for upstreams that send none. */
export function computeEtag (body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/** RFC 9110 §13.1.2: weak comparison of an If-None-Match list against one ETag. */
export function etagMatches (ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true
  const tag = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const raw of ifNoneMatch.split(',')) {
    const candidate = raw.trim()
    if ((candidate.startsWith('W/') ? candidate.slice(2) : candidate) === tag) return true
  }
  return false
}
