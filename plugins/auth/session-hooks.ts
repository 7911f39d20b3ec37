import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { SessionStore } from '../../services/auth/session-store.ts'
import { identityFromUser } from '../../services/auth/claims.ts'
import { AuthFailure } from '../../services/auth/auth-failure.ts'
import { AuthUnavailableError } from '../../errors.ts'

/** A login answer larger than this is passed through without starting a session. */
export const MAX_LOGIN_BODY = 64 * 1024
const JSON_TYPE = /^application\/(?:[\w.+-]*\+)?json\b/i

export interface SessionHookOptions {
  sessions: SessionStore
  cookieName: string
  cookieOptions: { path: string, httpOnly: boolean, sameSite: 'lax', secure: boolean, maxAge: number }
  /** The precomputed Set-Cookie value that clears the cookie. */
  clearCookie: string
}

type OnSend = (request: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown>

/**
 * `session: create`: when the upstream answers 2xx JSON holding a `user` object, stores that
 * user as the session and sets the cookie. Only this small response is buffered (up to
 * MAX_LOGIN_BODY), and the bytes sent on are exactly the upstream's. A previous session on the
 * same browser is ended, so a login always gets a fresh id (no session fixation).
 */
export function startSession (opts: SessionHookOptions): OnSend {
  return async function portico_sessionCreate (request, reply, payload) {
    const status = reply.statusCode
    if (status < 200 || status > 299 || payload === null || payload === undefined) return payload
    const type = reply.getHeader('content-type')
    if (typeof type !== 'string' || !JSON_TYPE.test(type) || reply.getHeader('content-encoding') !== undefined) return payload
    if (Number(reply.getHeader('content-length')) > MAX_LOGIN_BODY) {
      request.log.warn('session: create response is too large to read; no session started')
      return payload
    }
    const read = await readBounded(payload, MAX_LOGIN_BODY)
    if (read.body === undefined) {
      request.log.warn('session: create response is too large to read; no session started')
      return read.rest
    }
    let user: unknown
    try {
      user = (JSON.parse(read.body.toString('utf8')) as { user?: unknown } | null)?.user
    } catch {
      return read.body
    }
    if (user === null || typeof user !== 'object' || Array.isArray(user)) return read.body
    let identity
    try {
      identity = identityFromUser(user as Record<string, unknown>, 'session')
    } catch (err) {
      request.log.warn({ reason: (err as AuthFailure).message }, 'session: create response has an unusable user; no session started')
      return read.body
    }
    let id: string
    try {
      id = await opts.sessions.create(identity)
    } catch (err) {
      request.server.metrics.storeError('session')
      const error = new AuthUnavailableError('session store')
      error.cause = err
      throw error
    }
    if (request.sessionId !== null) {
      opts.sessions.destroy(request.sessionId).catch((err: Error) => request.log.warn({ err }, 'could not end the previous session'))
    }
    reply.header('set-cookie', request.server.serializeCookie(opts.cookieName, id, opts.cookieOptions))
    return read.body
  }
}

/**
 * `session: destroy`: ends the session the request carried (whatever the upstream answered:
 * a logout must work while the upstream is down) and clears the cookie.
 */
export function endSession (opts: SessionHookOptions): OnSend {
  return async function portico_sessionDestroy (request, reply, payload) {
    if (request.sessionId !== null) {
      try {
        await opts.sessions.destroy(request.sessionId)
      } catch (err) {
        request.server.metrics.storeError('session')
        request.log.error({ err }, 'session store unavailable: the session could not be deleted (the cookie is cleared)')
      }
    }
    reply.header('set-cookie', opts.clearCookie)
    return payload
  }
}

type Bounded = { body: Buffer, rest?: undefined } | { body?: undefined, rest: Readable }

/** The payload as bytes when it fits `limit`; else a stream replaying what was read plus the rest. */
async function readBounded (payload: unknown, limit: number): Promise<Bounded> {
  if (Buffer.isBuffer(payload)) return payload.length <= limit ? { body: payload } : { rest: Readable.from([payload]) }
  if (typeof payload === 'string') return payload.length <= limit ? { body: Buffer.from(payload) } : { rest: Readable.from([payload]) }
  const stream = payload as Readable
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done === true) return { body: Buffer.concat(chunks, size) }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value
    chunks.push(chunk)
    size += chunk.length
    if (size > limit) {
      return {
        rest: Readable.from((async function * () {
          yield * chunks
          for (;;) {
            const more = await iterator.next()
            if (more.done === true) return
            yield more.value
          }
        })())
      }
    }
  }
}
