import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Readable } from 'node:stream'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import { TrackingOptionsSchema, type TrackingOptions } from '../../schemas/tracking.ts'
import { openTrackingDatabase, dbErrorMessage, type TrackingDatabase } from '../../services/tracking/database.ts'
import { TrackingWriter, type WriterStats } from '../../services/tracking/writer.ts'
import { RetentionJob } from '../../services/tracking/retention.ts'
import { BodyCapture, tapStream } from '../../services/tracking/capture.ts'
import { ROW_OVERHEAD_BYTES, type TrackedRequest } from '../../services/tracking/record.ts'
import { listRequests, type RequestFilters } from '../../services/tracking/queries.ts'
import type { RequestRow } from '../../services/tracking/schema.ts'
import { encodeRequest, insertLines } from '../../services/tracking/insert.ts'
import { ANONYMOUS_TIER } from '../../services/auth/identity.ts'
import { TrackingDisabledError } from '../../errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Request tracking: its queue's figures and the admin read; `noopTracking` when TRACKING_ENABLED=false. */
    tracking: Tracking
  }
  interface FastifyRequest {
    /** Body captures and timings of a tracked request; null on untracked routes. */
    trackingState: RequestTracking | null
  }
}

export interface Tracking {
  readonly enabled: boolean
  stats (): WriterStats
  /** Rows newest first (GET /admin/requests). */
  list (filters: RequestFilters): Promise<RequestRow[]>
  /** Writes what is queued now (tests, and anyone who must see a row at once). */
  flush (): Promise<void>
  /** The writer, for tests that watch its events. */
  readonly writer?: TrackingWriter<TrackedRequest, Buffer>
  readonly database?: TrackingDatabase
  readonly retention?: RetentionJob
}

/** TRACKING_ENABLED=false: nothing is captured, queued or opened. */
export const noopTracking: Tracking = {
  enabled: false,
  stats: () => ({ queued: 0, written: 0, dropped: 0, failed: 0 }),
  list: async () => { throw new TrackingDisabledError() },
  flush: async () => {}
}

/** Per-request state; created by the first tracking hook that runs (an early 401 skips the others). */
class RequestTracking {
  requestBody: BodyCapture | null = null
  responseBody: BodyCapture | null = null
  handlerAt = 0
  sentAt = 0
  error: string | null = null
  /** Set once the row is queued: an abort after the response, or a response after an abort, adds none. */
  recorded = false
  /** For onRequestAbort, the one hook without it. */
  reply: FastifyReply | null = null
}

// nginx's code for a client that went away before its response was complete.
const CLIENT_CLOSED_STATUS = 499
const CLIENT_CLOSED_ERROR = 'PORTICO_CLIENT_CLOSED: the client closed the connection before the response was complete'

const MIGRATION_RETRY_MAX_MS = 30_000
const TAB = 9
// Node's default --max-http-header-size bounds a request line, and so a URL.
const MAX_URL_BYTES = 16_384

/**
 * Records every request to a proxied route whose `track` is on: its outcome, timings, identity,
 * headers and the first TRACKING_MAX_BODY bytes of both bodies, whatever the status (a 401 from
 * auth or a 429 too). Route-level hooks are attached in onRoute, so the gateway's own endpoints
 * and `track: false` routes pay nothing. Bodies are copied as they stream past, never buffered
 * whole or delayed. The request path only enqueues; the writer inserts in batches, off it.
 */
async function trackingPlugin (app: FastifyInstance, rawOpts: Partial<TrackingOptions>): Promise<void> {
  const opts = checkOptions(rawOpts)
  app.decorateRequest('trackingState', null)
  if (!opts.enabled) {
    app.decorate('tracking', noopTracking)
    return
  }

  const log = app.log.child({ concern: 'tracking' })
  let idleErrorLogged = false
  const database = await openTrackingDatabase({
    url: opts.databaseUrl,
    dataDir: opts.dataDir,
    // A pooled connection the server dropped: the next query reconnects; say it once per outage.
    onIdleError: (err) => {
      if (!idleErrorLogged) log.warn({ error: err.message }, 'tracking: database connection lost')
      idleErrorLogged = true
    }
  })

  // Applied before the first insert. An unreachable PostgreSQL does not stop the gateway: rows
  // queue (the writer treats "not migrated" as an outage) while migrations are retried.
  let migrated = false
  let migrationError: string | null = null
  let migrationTimer: NodeJS.Timeout | null = null
  const tryMigrate = async (attempt: number): Promise<void> => {
    try {
      await database.migrate()
      migrated = true
      migrationError = null
      if (attempt > 0) log.info({ attempts: attempt + 1 }, 'tracking: migrations applied')
    } catch (err) {
      if (database.kind === 'pglite') throw err
      migrationError = dbErrorMessage(err)
      if (attempt === 0) log.error({ error: migrationError, database: database.location }, 'tracking: cannot migrate the database; retrying, rows are queued meanwhile')
      migrationTimer = setTimeout(() => { void tryMigrate(attempt + 1) }, Math.min(1000 * 2 ** attempt, MIGRATION_RETRY_MAX_MS))
      migrationTimer.unref()
    }
  }
  try {
    await tryMigrate(0)
  } catch (err) {
    await database.close()
    throw new Error(`tracking: cannot open the embedded database in ${opts.dataDir}: ${(err as Error).message}`)
  }
  idleErrorLogged = false

  // A request becomes its COPY line when it ends: the queue holds Buffers, outside the JS heap.
  const writer = new TrackingWriter<TrackedRequest, Buffer>({
    insert: async (lines) => {
      if (!migrated) throw new Error(`tracking database not migrated yet: ${migrationError ?? 'pending'}`)
      await insertLines(database, lines)
      idleErrorLogged = false
    },
    prepare: encodeRequest,
    sizeOf: (line) => line.length,
    describe: (line) => line.toString('utf8', 0, line.indexOf(TAB)),
    queueMax: opts.queueMax,
    queueMaxBytes: opts.queueMaxBytes,
    batchSize: Math.min(opts.batchSize, opts.queueMax),
    flushInterval: opts.flushInterval,
    log
  })
  writer.on('written', (n: number) => app.metrics.trackingRows('written', n))
  writer.on('dropped', (n: number) => app.metrics.trackingRows('dropped', n))
  writer.on('failed', (n: number) => app.metrics.trackingRows('failed', n))
  app.metrics.observeTracking(() => {
    const { queued, written, dropped } = writer.stats()
    return { queued, written, dropped, queuedBytes: writer.queuedBytesEstimate() }
  })
  app.healthSummary.set('tracking', () => writer.stats())
  app.readiness.add('database', async () => {
    if (!migrated) throw new Error(`migrations not applied: ${migrationError ?? 'pending'}`)
    await database.ping()
  })

  const retention = new RetentionJob(database.db, { retentionMs: opts.retention, log })
  retention.start()

  app.decorate('tracking', {
    enabled: true,
    stats: () => writer.stats(),
    list: (filters: RequestFilters) => listRequests(database.db, filters),
    flush: () => writer.flush(),
    writer,
    database,
    retention
  } satisfies Tracking)

  app.addHook('onClose', async () => {
    if (migrationTimer !== null) clearTimeout(migrationTimer)
    await retention.stop()
    await writer.close(opts.closeTimeout)
    await database.close()
  })

  const maxBody = opts.maxBody
  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.route
    if (route === undefined || !route.track) return
    const info = { route: route.path, service: route.service }
    // Routes with a body schema keep the raw bytes (request.rawBody); the others stream, and are tapped.
    if (routeOptions.config?.body?.parse !== true) {
      routeOptions.preParsing = append(routeOptions.preParsing, function tapRequestBody (request: FastifyRequest, _reply: FastifyReply, payload: Readable, done: (err: Error | null, body?: Readable) => void) {
        const headers = request.headers
        if (headers['content-length'] !== undefined ? headers['content-length'] !== '0' : headers['transfer-encoding'] !== undefined) {
          const state = (request.trackingState ??= new RequestTracking())
          state.reply = _reply
          tapStream(payload, state.requestBody = new BodyCapture(maxBody))
        }
        done(null, payload)
      })
    }
    routeOptions.preHandler = append(routeOptions.preHandler, markHandler)
    routeOptions.onSend = append(routeOptions.onSend, function captureResponse (request: FastifyRequest, _reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) {
      const state = (request.trackingState ??= new RequestTracking())
      state.sentAt = performance.now()
      if (payload !== null && payload !== undefined) {
        const capture = state.responseBody = new BodyCapture(maxBody)
        if (typeof payload === 'string') capture.addString(payload)
        else if (Buffer.isBuffer(payload)) capture.add(payload)
        else if (typeof (payload as Readable).pipe === 'function') tapStream(payload as Readable, capture)
      }
      done(null, payload)
    })
    routeOptions.onError = append(routeOptions.onError, noteError)
    routeOptions.onResponse = append(routeOptions.onResponse, function recordRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
      const state = (request.trackingState ??= new RequestTracking())
      if (!state.recorded) {
        state.recorded = true
        writer.enqueue(tracked(request, reply, info.route, info.service, maxBody, reply.statusCode))
      }
      done()
    })
    // A client that disconnects first gets no onResponse: its request is still a row (499).
    routeOptions.onRequestAbort = append(routeOptions.onRequestAbort, function recordAbort (request: FastifyRequest, done: HookHandlerDoneFunction) {
      const state = (request.trackingState ??= new RequestTracking())
      if (!state.recorded) {
        state.recorded = true
        state.error ??= CLIENT_CLOSED_ERROR
        writer.enqueue(tracked(request, state.reply, info.route, info.service, maxBody, CLIENT_CLOSED_STATUS))
      }
      done()
    })
  })
}

function markHandler (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const state = (request.trackingState ??= new RequestTracking())
  state.handlerAt = performance.now()
  state.reply = reply
  done()
}

function noteError (request: FastifyRequest, reply: FastifyReply, error: FastifyError, done: HookHandlerDoneFunction): void {
  const state = (request.trackingState ??= new RequestTracking())
  state.error = `${error.code ?? error.name}: ${error.message}`
  state.reply = reply
  done()
}

function tracked (request: FastifyRequest, reply: FastifyReply | null, route: string, service: string, maxBody: number, statusCode: number): TrackedRequest {
  const state = request.trackingState
  let requestBody = state?.requestBody ?? null
  const raw = request.rawBody
  if (raw !== undefined && raw.length > 0) {
    requestBody = new BodyCapture(maxBody)
    requestBody.add(raw)
  }
  const identity = request.identity
  const durationMs = reply?.elapsedTime ?? 0
  return {
    requestId: request.id,
    startedAt: Date.now() - durationMs,
    method: request.method,
    url: request.url,
    route,
    service,
    statusCode,
    durationMs,
    upstreamMs: state !== null && state.handlerAt > 0 && state.sentAt >= state.handlerAt ? state.sentAt - state.handlerAt : null,
    ip: request.ip,
    userId: identity?.id ?? null,
    tier: identity ? identity.tier : ANONYMOUS_TIER,
    requestHeaders: request.headers,
    requestBody,
    bytesIn: Number(request.headers['content-length']) || 0,
    // Once sent, every header is on the raw response: one object instead of reply.getHeaders()' merge of two.
    responseHeaders: reply === null ? {} : reply.raw.headersSent ? reply.raw.getHeaders() : reply.getHeaders(),
    responseBody: state?.responseBody ?? null,
    error: state?.error ?? null
  }
}

type AnyHook = (...args: never[]) => unknown
function append<H extends AnyHook> (existing: H | H[] | undefined, hook: H): H[] {
  if (existing === undefined) return [hook]
  return Array.isArray(existing) ? [...existing, hook] : [existing, hook]
}

function checkOptions (raw: Partial<TrackingOptions>): TrackingOptions {
  const opts = checkPluginOptions('portico-tracking', TrackingOptionsSchema, raw)
  // The largest row (two full body captures) must fit, or such requests could never be tracked.
  const largest = ROW_OVERHEAD_BYTES + 2 * opts.maxBody + MAX_URL_BYTES
  if (opts.queueMaxBytes < largest) throw new Error(`portico-tracking: invalid options: /queueMaxBytes (${opts.queueMaxBytes}) must hold at least one row with two full body captures: ${largest} bytes with maxBody ${opts.maxBody}`)
  return opts
}

export default fp(trackingPlugin, {
  name: 'portico-tracking',
  fastify: '5.x',
  dependencies: ['portico-readiness', 'portico-request-context']
})
