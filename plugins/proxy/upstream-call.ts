import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { FastifyReplyFromHooks } from '@fastify/reply-from'
import type { Target, TargetPool } from '../../services/upstream/target-pool.ts'
import { backoffDelay, IDEMPOTENT_METHODS, isConnectionFailure } from '../../services/upstream/retry-policy.ts'
import { CircuitOpenError, UpstreamUnavailableError } from '../../errors.ts'
import { classifyUpstreamError, upstreamError } from './upstream-errors.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The target the current attempt went to, until its outcome is recorded. */
    upstreamTarget: Target | null
    /** performance.now() when the current attempt was sent. */
    upstreamStarted: number
    /** Retries made so far. */
    upstreamAttempt: number
    /** Path (and nothing else) at the upstream, kept for retries. */
    upstreamPath: string
  }
}

export type FromOptions = FastifyReplyFromHooks & { timeout: number }

export function decorateUpstreamCall (app: FastifyInstance): void {
  app.decorateRequest('upstreamTarget', null)
  app.decorateRequest('upstreamStarted', 0)
  app.decorateRequest('upstreamAttempt', 0)
  app.decorateRequest('upstreamPath', '')
}

/**
 * How one route's requests reach its service: pick a target, send with reply-from, record the
 * outcome on the target's breaker, retry where that is safe. Built once per route; its methods
 * are bound once, so nothing is allocated per request beyond reply-from's own work.
 *
 * The outcome is known at response headers (reply-from's onResponse) or at an error before them
 * (its onError). A retry is a new `reply.from` call to another target from onError: reply-from
 * has not sent anything at that point, and its own retry hook cannot change the URL.
 */
export class UpstreamCall {
  private readonly fromOptions: FromOptions
  private readonly retryLater: (request: FastifyRequest, reply: FastifyReply, target: Target) => void

  constructor (
    private readonly app: FastifyInstance,
    private readonly pool: TargetPool,
    private readonly retries: number,
    options: Omit<FromOptions, 'onResponse' | 'onError'>
  ) {
    // reply-from reads retryDelay per call, not from its plugin options: without this it would
    // retry a GET answered 503 up to ten times on its own.
    this.fromOptions = { ...options, retryDelay: () => null, onResponse: this.onResponse.bind(this) as FromOptions['onResponse'], onError: this.onError.bind(this) as FromOptions['onError'] }
    this.onRequestAbort = this.onRequestAbort.bind(this)
    this.retryLater = (request, reply, target) => {
      if (request.raw.socket?.destroyed === true || reply.sent) {
        this.pool.onAbandon(target)
        return
      }
      this.dispatch(request, reply, target, performance.now())
    }
  }

  /** The route handler's part: choose a target (or fail fast) and send. */
  send (request: FastifyRequest, reply: FastifyReply, path: string): void {
    const now = performance.now()
    this.pool.budget.onRequest(now)
    const target = this.pool.pick(now)
    if (target === null) throw this.noTargetError(now)
    request.upstreamPath = path
    this.dispatch(request, reply, target, now)
  }

  /**
   * Route hook, callback style so that other concerns' abort hooks run after it: the client went
   * away before the upstream answered; free the target without a verdict.
   */
  onRequestAbort (request: FastifyRequest, done: () => void): void {
    const target = request.upstreamTarget
    if (target !== null) {
      request.upstreamTarget = null
      target.active--
      this.pool.onAbandon(target)
    }
    done()
  }

  private dispatch (request: FastifyRequest, reply: FastifyReply, target: Target, now: number): void {
    target.active++
    request.upstreamTarget = target
    request.upstreamStarted = now
    const raw = request.rawBody
    reply.from(target.url + request.upstreamPath, raw === undefined
      ? this.fromOptions
      : { ...this.fromOptions, body: raw, contentType: request.headers['content-type'] } as FromOptions)
  }

  private onResponse (request: FastifyRequest, reply: FastifyReply, res: { statusCode: number, stream: unknown }): void {
    const target = request.upstreamTarget
    if (target !== null) {
      request.upstreamTarget = null
      target.active--
      const now = performance.now()
      this.pool.onResponse(target, res.statusCode, now)
      this.app.metrics.upstreamRequest(this.pool.service, target.url, (now - request.upstreamStarted) / 1000)
    }
    reply.send(res.stream)
  }

  private onError (reply: FastifyReply, { error }: { error: Error }): void {
    const request = reply.request
    const target = request.upstreamTarget
    const kind = classifyUpstreamError(error)
    if (target !== null) {
      request.upstreamTarget = null
      target.active--
      const now = performance.now()
      if (kind instanceof Error || request.raw.aborted) {
        // Our own error (a streamed body past its limit) or a client that left: not the target's fault.
        this.pool.onAbandon(target)
      } else {
        this.pool.onFailure(target, now)
        this.app.metrics.upstreamError(this.pool.service, kind)
        if (this.mayRetry(request, reply, error, now)) {
          const next = this.pool.pick(now, target) ?? this.pool.pick(now)
          if (next !== null) {
            request.upstreamAttempt++
            request.log.info({ service: this.pool.service, failed: target.url, next: next.url, attempt: request.upstreamAttempt, err: error.cause ?? error }, 'retrying upstream request')
            setTimeout(this.retryLater, backoffDelay(request.upstreamAttempt), request, reply, next).unref()
            return
          }
        }
      }
    }
    reply.header('x-service', this.pool.service)
    reply.send(upstreamError(this.pool.service, error))
  }

  /**
   * Only idempotent methods, only failures to connect or to get any response byte, only when the
   * body can be sent again (none, or buffered), within `retries` and the service's retry budget.
   */
  private mayRetry (request: FastifyRequest, reply: FastifyReply, error: Error, now: number): boolean {
    return request.upstreamAttempt < this.retries &&
      IDEMPOTENT_METHODS.has(request.method) &&
      (request.body === undefined || request.rawBody !== undefined) &&
      !reply.sent && request.raw.socket?.destroyed !== true &&
      isConnectionFailure(error) &&
      this.pool.budget.tryRetry(now)
  }

  private noTargetError (now: number): Error {
    const { retryAfterMs } = this.pool.noTarget(now)
    const service = this.pool.service
    this.app.metrics.upstreamError(service, retryAfterMs === undefined ? 'unavailable' : 'circuit-open')
    const error: Error & { headers?: Record<string, string> } = retryAfterMs === undefined ? new UpstreamUnavailableError(service) : new CircuitOpenError(service)
    error.headers = retryAfterMs === undefined
      ? { 'x-service': service }
      : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))), 'x-service': service }
    return error
  }
}
