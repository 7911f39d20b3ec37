import fp from 'fastify-plugin'
import cookie from '@fastify/cookie'
import { Agent } from 'undici'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { GatewayEnv } from '../../services/config/env.ts'
import type { RouteConfig } from '../../services/config/load-config.ts'
import type { Identity } from '../../services/auth/identity.ts'
import { AuthFailure } from '../../services/auth/auth-failure.ts'
import { Authenticator } from '../../services/auth/authenticator.ts'
import { JwtVerifier } from '../../services/auth/jwt-verifier.ts'
import { JwksKeyStore } from '../../services/auth/jwks.ts'
import { RemoteVerifier } from '../../services/auth/remote-verifier.ts'
import { SessionStore } from '../../services/auth/session-store.ts'
import { parsePublicKeyPem } from '../../services/auth/key-algorithms.ts'
import { AuthUnavailableError, ForbiddenError, UnauthorizedError } from '../../errors.ts'
import { authDocs } from './docs.ts'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import { AuthPluginOptionsSchema, type AuthPluginOptions } from '../../schemas/auth.ts'
import { startSession, endSession } from './session-hooks.ts'
import { DEFAULT_TIER } from '../../services/auth/identity.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The gateway session cookie's value when the request carried one (not yet checked). */
    sessionId: string | null
  }
}

/** The plugin's options from the decoded environment. */
export function authOptions (env: GatewayEnv): AuthPluginOptions {
  const list = (value?: string) => value === undefined ? undefined : value.split(',').map(v => v.trim()).filter(Boolean)
  const local = env.JWT_SECRET !== undefined || env.JWT_PUBLIC_KEY !== undefined || env.JWKS_URL !== undefined
  return {
    jwt: local
      ? { secret: env.JWT_SECRET, publicKey: env.JWT_PUBLIC_KEY, jwksUrl: env.JWKS_URL, issuer: list(env.JWT_ISSUER), audience: list(env.JWT_AUDIENCE) }
      : undefined,
    verify: env.AUTH_VERIFY_URL === undefined ? undefined : { url: env.AUTH_VERIFY_URL, cacheTtl: env.AUTH_VERIFY_CACHE_TTL, timeout: env.AUTH_VERIFY_TIMEOUT },
    session: { cookie: env.SESSION_COOKIE, ttl: env.SESSION_TTL, secure: env.SESSION_COOKIE_SECURE },
    trustHeaders: env.RATE_LIMIT_TRUST_HEADERS
  }
}

// Identity headers upstreams trust; whatever a client sent under these names never reaches them.
const IDENTITY_HEADERS = ['x-user-id', 'x-user-email', 'x-user-scopes', 'x-user-tier'] as const
const MAX_TRUSTED_HEADER_LENGTH = 256
const UNSAFE_TRUSTED_HEADER = /[\x00-\x1f\x7f]/
const CHALLENGE = 'Bearer realm="portico"'
// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
const MIN_SECRET_BYTES = 32

/**
 * Authentication and identity (issue 3). Per proxied route, read once in onRoute:
 * - every route gets an onRequest hook that removes client-sent X-User-* headers (and the
 *   gateway's session cookie) from what is forwarded; with RATE_LIMIT_TRUST_HEADERS it first
 *   reads X-User-ID / X-User-Tier as an unverified identity (`via: 'header'`) for rate limits;
 * - `auth: optional | required` routes verify a bearer token (local JWT or the verify service)
 *   or else the session cookie, set `request.identity`, enforce `scopes`, and write the
 *   identity into the forwarded X-User-* headers;
 * - `session: create | destroy` routes get an onSend hook that starts or ends the session.
 * The hooks are callback-style so a cached token is checked without a promise or a tick.
 */
async function authPlugin (app: FastifyInstance, rawOpts: AuthPluginOptions): Promise<void> {
  const opts = checkPluginOptions('portico-auth', AuthPluginOptionsSchema, rawOpts)
  await app.register(cookie, { hook: false })

  const storeFailure = throttledLog(app, 'auth store unavailable; verifying without its cache')
  let jwks: JwksKeyStore | undefined
  let jwt: JwtVerifier | undefined
  if (opts.jwt !== undefined) {
    const { secret, publicKey, jwksUrl, issuer, audience } = opts.jwt
    if (jwksUrl !== undefined) {
      const agent = new Agent({ connections: 4, keepAliveTimeout: 30_000 })
      app.addHook('onClose', async () => { await agent.close() })
      jwks = new JwksKeyStore({
        url: jwksUrl,
        dispatcher: agent,
        onError: (err) => app.log.warn({ err }, 'JWKS refresh failed; keeping the keys already known')
      })
      const keySet = jwks
      app.readiness.add('jwks', async () => { if (keySet.size === 0) await keySet.refresh() })
    }
    jwt = new JwtVerifier({
      secret,
      publicKey: publicKey === undefined ? undefined : parsePublicKeyPem(publicKey),
      jwks,
      issuer,
      audience
    })
  }
  let remote: RemoteVerifier | undefined
  if (opts.verify !== undefined) {
    remote = new RemoteVerifier({
      ...opts.verify,
      store: app.store.child('auth'),
      onStoreError: (err) => { app.metrics.storeError('auth'); storeFailure(err) }
    })
    const verifier = remote
    app.addHook('onClose', async () => { await verifier.close() })
  }
  const sessions = new SessionStore(app.store.child('cookie'), opts.session.ttl)
  const authenticator = new Authenticator({ jwt, remote, sessions })
  const cookieName = opts.session.cookie
  const cookieNeedle = `${cookieName}=`
  const trustHeaders = opts.trustHeaders

  app.decorateRequest('sessionId', null)

  const clearCookie = app.serializeCookie(cookieName, '', { path: '/', httpOnly: true, sameSite: 'lax', secure: opts.session.secure, maxAge: 0, expires: new Date(0) })
  const sessionHooks = {
    sessions,
    cookieName,
    cookieOptions: { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: opts.session.secure, maxAge: Math.floor(opts.session.ttl / 1000) },
    clearCookie
  }

  let authRoutes = 0
  app.addHook('onRoute', (routeOptions: RouteOptions) => {
    const route = routeOptions.config?.route
    if (route === undefined) return
    const hook = route.auth === 'none' ? forwardOnly : authHook(route)
    routeOptions.onRequest = [...asArray(routeOptions.onRequest), hook]
    if (route.session !== undefined) {
      const onSend = route.session === 'create' ? startSession(sessionHooks) : endSession(sessionHooks)
      routeOptions.onSend = [...asArray(routeOptions.onSend), onSend]
    }
    if (route.auth !== 'none') {
      authRoutes++
      routeOptions.config!.docs = { ...routeOptions.config!.docs, auth: authDocs(route, cookieName) }
    }
  })

  app.addHook('onReady', async () => {
    if (opts.jwt?.secret !== undefined && Buffer.byteLength(opts.jwt.secret) < MIN_SECRET_BYTES) {
      app.log.warn(`JWT_SECRET is shorter than ${MIN_SECRET_BYTES} bytes: HS256 secrets that short can be brute-forced`)
    }
    if (authRoutes > 0 && !authenticator.acceptsBearer) {
      app.log.warn('routes use auth but none of JWT_SECRET, JWT_PUBLIC_KEY, JWKS_URL or AUTH_VERIFY_URL is set: only session cookies are accepted')
    }
  })

  /**
   * Reads (and removes from the forwarded request) what clients must not pass through: X-User-*
   * headers and the gateway's own session cookie. Returns the trusted-header identity, if any.
   */
  function prepare (request: FastifyRequest, headers: IncomingHttpHeaders): Identity | null {
    let trusted: Identity | null = null
    if (headers['x-user-id'] !== undefined || headers['x-user-email'] !== undefined ||
        headers['x-user-scopes'] !== undefined || headers['x-user-tier'] !== undefined) {
      if (trustHeaders) trusted = headerIdentity(headers)
      for (const name of IDENTITY_HEADERS) delete headers[name]
    }
    const cookieHeader = headers.cookie
    if (cookieHeader !== undefined && cookieHeader.includes(cookieNeedle)) {
      const value = app.parseCookie(cookieHeader)[cookieName]
      if (value !== undefined) {
        // An empty value is a cleared cookie, not a credential.
        if (value !== '') request.sessionId = value
        const rest = withoutCookie(cookieHeader, cookieName)
        if (rest === '') delete headers.cookie
        else headers.cookie = rest
      }
    }
    return trusted
  }

  function forwardOnly (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const trusted = prepare(request, request.raw.headers)
    if (trusted !== null) request.identity = trusted
    done()
  }

  function authHook (route: RouteConfig) {
    const required = route.auth === 'required'
    const scopes = route.scopes
    // RFC 6750 §3.1: a 403 for scope names the scopes the route needs.
    const insufficientScope = `${CHALLENGE}, error="insufficient_scope", scope="${scopes.join(' ')}"`
    const accept = (request: FastifyRequest, identity: Identity, done: HookHandlerDoneFunction): void => {
      if (scopes.length > 0 && !holdsAll(identity.scopes, scopes)) {
        const missing = scopes.filter(s => !identity.scopes.includes(s))
        request.identity = identity
        const error = new ForbiddenError(`missing scope${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`) as unknown as Error & { headers: Record<string, string> }
        error.headers = { 'www-authenticate': insufficientScope }
        return done(error)
      }
      request.identity = identity
      const headers = request.raw.headers
      headers['x-user-id'] = identity.id
      if (identity.email !== undefined) headers['x-user-email'] = identity.email
      headers['x-user-scopes'] = identity.scopes.join(' ')
      headers['x-user-tier'] = identity.tier
      done()
    }

    return function portico_auth (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
      const headers = request.raw.headers
      const trusted = prepare(request, headers)
      const authorization = headers.authorization
      let result: Identity | Promise<Identity>
      let fromSession = false
      try {
        if (authorization !== undefined) {
          result = authenticator.bearer(authorization)
        } else if (request.sessionId !== null) {
          fromSession = true
          result = authenticator.session(request.sessionId)
        } else {
          if (required) return done(unauthorized('authentication required', false))
          if (trusted !== null) request.identity = trusted
          return done()
        }
      } catch (err) {
        return done(httpError(err, false))
      }
      if (result instanceof Promise) {
        result.then(
          (identity) => accept(request, identity, done),
          (err: unknown) => done(httpError(err, fromSession))
        )
      } else {
        accept(request, result, done)
      }
    }
  }

  function httpError (err: unknown, fromSession: boolean): Error {
    if (!(err instanceof AuthFailure)) return err as Error
    if (err.kind === 'unavailable') {
      if (err.subject === 'session store') app.metrics.storeError('session')
      const error = new AuthUnavailableError(err.subject ?? 'auth service')
      error.cause = err.cause
      return error
    }
    return unauthorized(err.message, true, fromSession)
  }

  function unauthorized (message: string, invalidToken: boolean, clear = false): Error {
    const error = new UnauthorizedError(message) as unknown as Error & { headers: Record<string, string> }
    error.headers = {
      'www-authenticate': invalidToken ? `${CHALLENGE}, error="invalid_token", error_description="${message}"` : CHALLENGE
    }
    // A session the store does not know is dropped from the browser too.
    if (clear) error.headers['set-cookie'] = clearCookie
    return error
  }
}

function headerIdentity (headers: IncomingHttpHeaders): Identity | null {
  const id = headers['x-user-id']
  if (typeof id !== 'string' || id === '' || id.length > MAX_TRUSTED_HEADER_LENGTH || UNSAFE_TRUSTED_HEADER.test(id)) return null
  const tier = headers['x-user-tier']
  const validTier = typeof tier === 'string' && tier !== '' && tier.length <= MAX_TRUSTED_HEADER_LENGTH && !UNSAFE_TRUSTED_HEADER.test(tier)
  return { id, scopes: [], tier: validTier ? tier : DEFAULT_TIER, via: 'header' }
}

/** The Cookie header without the named cookie ('' when nothing is left). */
export function withoutCookie (header: string, name: string): string {
  const kept: string[] = []
  for (const part of header.split(';')) {
    const pair = part.trim()
    if (pair === '') continue
    const eq = pair.indexOf('=')
    if ((eq === -1 ? pair : pair.slice(0, eq).trim()) !== name) kept.push(pair)
  }
  return kept.join('; ')
}

function holdsAll (held: string[], needed: string[]): boolean {
  for (let i = 0; i < needed.length; i++) if (!held.includes(needed[i])) return false
  return true
}

function asArray<T> (value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

/** Logs the first failure, then at most one line per 10 s while failures go on. */
function throttledLog (app: FastifyInstance, message: string): (err: Error) => void {
  let last = 0
  return (err) => {
    const now = Date.now()
    if (now - last < 10_000) return
    last = now
    app.log.warn({ err }, message)
  }
}

export default fp(authPlugin, {
  name: 'portico-auth',
  fastify: '5.x',
  dependencies: ['portico-redis', 'portico-readiness', 'portico-request-context', 'portico-error-handler']
})
