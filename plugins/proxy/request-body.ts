import { Transform, type TransformCallback } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import type { FastifyRequest } from 'fastify'
import sjson from 'secure-json-parse'
import querystring from 'fast-querystring'
import { BodyTooLargeError, InvalidBodyError, UnsupportedMediaTypeError } from '../../errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes exactly as received, kept on routes whose body schema made us parse them. */
    rawBody?: Buffer
  }
  interface FastifyContextConfig {
    /** Set once per proxied route: how its request body is read. */
    body?: { limit: number, parse: boolean }
  }
}

/**
 * The proxy's one content-type parser. A route without a body schema gets the request stream
 * itself, so bodies of any size flow to the upstream without being held in memory; the limit is
 * still enforced (Content-Length up front, chunked bodies as they stream). A route with a body
 * schema buffers (up to its limit) and parses JSON or form bodies so Fastify can validate them,
 * keeping the raw bytes to forward unchanged.
 */
export function parseProxiedBody (request: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void): void {
  const { limit, parse } = request.routeOptions.config.body!
  const declared = Number(request.headers['content-length'])
  if (declared > limit) return done(new BodyTooLargeError(limit))
  if (!parse) {
    // Node's parser never delivers more than Content-Length bytes, so only chunked bodies need counting.
    return done(null, Number.isFinite(declared) ? payload : payload.pipe(new LimitStream(limit)))
  }
  const type = mediaType(request.headers['content-type'])
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
    return done(new UnsupportedMediaTypeError(type || '(none)'))
  }
  readAll(payload, limit, (err, raw) => {
    if (err) return done(err)
    request.rawBody = raw
    if (raw!.length === 0) return done(null, undefined)
    try {
      done(null, type === 'application/json' ? sjson.parse(raw!.toString('utf8')) : querystring.parse(raw!.toString('utf8')))
    } catch {
      done(new InvalidBodyError(type === 'application/json' ? 'JSON' : 'form data'))
    }
  })
}

function mediaType (header: string | undefined): string {
  if (!header) return ''
  const semi = header.indexOf(';')
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase()
}

function readAll (stream: IncomingMessage, limit: number, cb: (err: Error | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = []
  let size = 0
  let failed = false
  stream.on('data', (chunk: Buffer) => {
    if (failed) return
    size += chunk.length
    if (size > limit) {
      failed = true
      cb(new BodyTooLargeError(limit))
      return
    }
    chunks.push(chunk)
  })
  stream.on('end', () => { if (!failed) cb(null, Buffer.concat(chunks, size)) })
  stream.on('error', (err) => { if (!failed) { failed = true; cb(err) } })
}

/** Passes a chunked body through, failing it with 413 once it grows past the limit. */
export class LimitStream extends Transform {
  private seen = 0
  constructor (private readonly limit: number) { super() }

  _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length
    if (this.seen > this.limit) callback(new BodyTooLargeError(this.limit))
    else callback(null, chunk)
  }
}
