import fp from 'fastify-plugin'
import { Transform, pipeline, type TransformCallback } from 'node:stream'
import type { IncomingHttpHeaders } from 'node:http'
import type {
  FastifyInstance, FastifyReply, FastifyRequest, RouteOptions, onRequestAbortHookHandler,
  onSendHookHandler, preHandlerAsyncHookHandler
} from 'fastify'
import { ResponseCache, REFETCH, type Fill } from '../../services/cache/response-cache.ts'
import { MemoryCacheStore } from '../../services/cache/memory-cache-store.ts'
import { RedisCacheStore } from '../../services/cache/redis-cache-store.ts'
import { computeEtag, etagMatches, type CacheEntry } from '../../services/cache/entry.ts'
import { cacheKey, pathOf } from '../../services/cache/key.ts'
import { compilePattern, indexesOf, indexOfPattern, type CompiledPattern } from '../../services/cache/patterns.ts'
import { describeCache } from '../../services/cache/route-config.ts'
import type { RouteConfig } from '../../services/config/load-config.ts'
import { CachePluginOptionsSchema, type CachePluginOptions } from '../../schemas/cache.ts'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'

export type { CachePluginOptions }

declare module 'fastify' {
  interface FastifyInstance {
    /** The response cache: `purgePatterns` for the admin API, `service` for the rest. */
    cache: GatewayCache
  }
  interface FastifyRequest {
    /** What the cache decided for this request; null = it was not consulted. */
    cacheState: CacheState | null
  }
}

export interface GatewayCache {
  readonly service: ResponseCache
  readonly shared: boolean
  /** Purges admin patterns (`/x`, `/x/*`); rejects when the store is unreachable. */
  purgePatterns (patterns: string[]): Promise<number>
}

// A stale entry is kept this long past its TTL (capped), so while one request refreshes it the
// others, on every instance, are answered from it instead of all going upstream.
const MAX_STALE_MS = 60_000
// One refresher per key across instances holds this lock at most this long.
const REFRESH_LOCK_MS = 10_000
// A waiter whose fetcher went away waits for (or becomes) the next one, this many times at most.
const MAX_REFETCH_WAITS = 3

// Never stored: hop-by-hop, and what the gateway sets per request (the snapshot catches the rest).
const NOT_STORED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'trailer', 'upgrade', 'set-cookie',
  'x-request-id', 'x-response-time', 'x-cache', 'age', 'traceparent', 'tracestate', 'server-timing'
])
// Sent with a 304 (RFC 9110 §15.4.5), besides ETag.
const NOT_MODIFIED_HEADERS = ['cache-control', 'content-location', 'date', 'expires', 'vary', 'last-modified', 'x-service']
const REQUEST_NO_STORE = /(?:^|[\s,])no-store\b/i
// Only an explicit no-cache revalidates: browsers send `max-age=0` on every plain reload, and
// honouring it would let ordinary reloads bypass the cache.
const REQUEST_NO_CACHE = /(?:^|[\s,])no-cache\b/i
const RESPONSE_NOT_STORED = /(?:^|[\s,])(?:no-store|no-cache)\b/i
const RESPONSE_PRIVATE = /(?:^|[\s,])private\b/i
const RESPONSE_SHARED = /(?:^|[\s,])(?:public|s-maxage)\b/i
const EMPTY = Buffer.alloc(0)

type CacheLabel = 'HIT' | 'MISS' | 'BYPASS'

/** A decision that needs nothing more from onSend. */
class Decided {
  constructor (readonly label: CacheLabel, readonly dropContentType = false) {}
}
const HIT = new Decided('HIT')
const HIT_WITHOUT_TYPE = new Decided('HIT', true)
const MISS = new Decided('MISS')
const BYPASS = new Decided('BYPASS')

/** This request fetches the key for everyone waiting on `fill`; onSend captures the response. */
class Leader {
  readonly label = 'MISS'
  constructor (
    readonly fill: Fill,
    readonly settings: RouteSettings,
    readonly indexes: string[],
    /** Reply headers set before the upstream answered (CORS, rate limit...): not the upstream's. */
    readonly before: Record<string, unknown>
  ) {}
}

export type CacheState = Decided | Leader

/** Everything a cached route needs per request, computed once in onRoute. */
interface RouteSettings {
  ttl: number
  /** How long past its TTL an entry is kept to be served while it is refreshed. */
  staleMs: number
  vary: string[]
  statuses: Set<number>
  perUser: boolean
}

/**
 * The response cache (issue 5). Routes with `cache` get a preHandler, which runs after auth and
 * rate limiting and answers hits from the store, and an onSend that tees a miss's upstream stream
 * into the store without delaying the client. Routes with `invalidates` get an onSend that purges
 * after a 2xx, before the response goes. Every other route carries no hook of this plugin.
 * Store: Redis when REDIS_URL is set (shared by every instance), else an in-process LRU by bytes.
 */
async function cachePlugin (app: FastifyInstance, options: CachePluginOptions): Promise<void> {
  const opts = checkPluginOptions('portico-cache', CachePluginOptionsSchema, options)
  const store = app.storeIsShared
    ? new RedisCacheStore(app.redis, `${opts.keyPrefix}:cache:`)
    : new MemoryCacheStore({ maxBytes: opts.maxMemory })
  const service = new ResponseCache(store, {
    storeFailed (err, outageStarted) {
      app.metrics.storeError('cache')
      if (outageStarted) app.log.warn({ err }, 'cache store unreachable: cacheable requests BYPASS to the upstream until it is back')
    },
    storeRecovered () { app.log.info('cache store reachable again') }
  })
  app.decorate('cache', {
    service,
    shared: app.storeIsShared,
    purgePatterns: (patterns: string[]) => service.purge(patterns.map(indexOfPattern))
  } satisfies GatewayCache)
  app.decorateRequest('cacheState', null)
  app.metrics.observeCacheEntries(() => store.size().catch(() => 0))
  app.healthSummary.set('cache', () => ({ store: app.storeIsShared ? 'redis' : 'memory', available: !service.storeDown }))
  app.addHook('onClose', async () => { await store.close() })

  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.route
    if (route === undefined) return
    if (route.cache !== undefined) addCacheHooks(app, service, routeOptions, route, opts)
    if (route.invalidates !== undefined && route.invalidates.length > 0) addInvalidateHook(app, service, routeOptions, route.invalidates)
  })
}

function addCacheHooks (app: FastifyInstance, cache: ResponseCache, routeOptions: RouteOptions, route: RouteConfig, opts: CachePluginOptions): void {
  const config = route.cache!
  const ttl = config.ttl ?? opts.ttl
  // CACHE_TTL=0 switches off the routes that take their TTL from it.
  if (ttl <= 0) return
  // The auth helper adds `auth` to routes; until then (or with `none`) a route is public.
  const auth = (route as { auth?: string }).auth
  const settings: RouteSettings = {
    ttl,
    staleMs: Math.min(ttl, MAX_STALE_MS),
    vary: config.vary,
    statuses: new Set(config.statuses),
    perUser: auth !== undefined && auth !== 'none'
  }
  const maxEntrySize = opts.maxEntrySize

  const preHandler: preHandlerAsyncHookHandler = async function cacheLookup (request, reply) {
    const method = request.method
    if (method !== 'GET' && method !== 'HEAD') return
    const headers = request.headers
    const cc = headers['cache-control']
    let refresh = false
    if (cc !== undefined) {
      if (REQUEST_NO_STORE.test(cc)) return bypass(app, request)
      refresh = REQUEST_NO_CACHE.test(cc)
    } else if (headers.pragma !== undefined) {
      refresh = headers.pragma.includes('no-cache')
    }
    if (!cache.available()) return bypass(app, request)
    // An identity from client headers (RATE_LIMIT_TRUST_HEADERS) is unverified: never a cache key.
    const identity = request.identity
    const key = cacheKey(request.url, settings.vary, headers, settings.perUser, identity !== null && identity.via !== 'header' ? identity.id : null)

    let lockToken: string | null = null
    let stale: CacheEntry | null = null
    // An upstream request in flight for this key will have the freshest answer: wait for it
    // rather than read the store, whose reply could predate that fill's write.
    if (!refresh && !(cache.pendingFill(key)?.settled === false)) {
      let entry: CacheEntry | null
      try {
        entry = await cache.lookup(key)
      } catch {
        return bypass(app, request)
      }
      if (entry !== null && varyMatches(entry, headers)) {
        const now = Date.now()
        if (entry.freshUntil > now || method === 'HEAD' || cache.pendingFill(key) !== undefined) return serveHit(app, request, reply, entry, now)
        // Stale: one request across every instance refreshes it; the others get the stale entry meanwhile.
        try {
          lockToken = await cache.lock(key, REFRESH_LOCK_MS)
        } catch {
          return bypass(app, request)
        }
        if (lockToken === null || cache.pendingFill(key) !== undefined) {
          if (lockToken !== null) cache.store.unlock(key, lockToken).catch(err => cache.failed(err))
          return serveHit(app, request, reply, entry, Date.now())
        }
        stale = entry
      }
    }

    if (lockToken === null) {
      // Another request is fetching this key: wait for its response instead of sending our own.
      for (let pending = cache.pendingFill(key), waits = 0; pending !== undefined; pending = cache.pendingFill(key)) {
        // A settled fill is only finishing its write; a client's no-cache asks for a newer answer.
        if (refresh && pending.settled) break
        // A refresh of a stale entry: serve the stale copy meanwhile (stale-while-revalidate).
        if (!pending.settled && pending.stale !== null && varyMatches(pending.stale, headers)) return serveHit(app, request, reply, pending.stale, Date.now())
        const filled = await pending.promise
        if (filled === REFETCH && ++waits < MAX_REFETCH_WAITS) continue
        if (filled !== null && filled !== REFETCH && varyMatches(filled, headers)) return serveHit(app, request, reply, filled, Date.now())
        return decide(app, request, MISS)
      }
    }
    const indexes = method === 'GET' ? indexesOf(pathOf(request.url)) : null
    if (indexes === null) {
      if (lockToken !== null) cache.store.unlock(key, lockToken).catch(err => cache.failed(err))
      // A HEAD cannot fill the GET entry; a path too deep to index is not stored.
      return decide(app, request, method === 'HEAD' ? MISS : BYPASS)
    }
    // The upstream must answer in full to fill the entry; this client still gets a correct 200.
    delete headers['if-none-match']
    delete headers['if-modified-since']
    request.cacheState = new Leader(cache.beginFill(key, lockToken, stale), settings, indexes, reply.getHeaders())
    app.metrics.cacheResult('miss')
  }

  const onSend: onSendHookHandler<unknown> = function cacheCapture (request, reply, payload, done) {
    const state = request.cacheState
    if (state === null) {
      const method = request.method
      if (method === 'GET' || method === 'HEAD') reply.header('x-cache', 'BYPASS')
      return done(null, payload)
    }
    if (state instanceof Decided) {
      if (state.dropContentType) reply.removeHeader('content-type')
      else if (state !== HIT) reply.header('x-cache', state.label)
      return done(null, payload)
    }
    reply.header('x-cache', 'MISS')
    const stored = storable(request, reply, state)
    if (stored === null) {
      cache.abandonFill(state.fill)
      return done(null, payload)
    }
    const status = reply.statusCode
    if (payload !== null && typeof payload === 'object' && typeof (payload as NodeJS.ReadableStream).pipe === 'function') {
      const declared = Number(reply.getHeader('content-length'))
      if (declared > maxEntrySize) {
        cache.abandonFill(state.fill)
        return done(null, payload)
      }
      const capture = new CaptureStream(maxEntrySize,
        (body) => store(cache, state, status, stored, body),
        (tooLarge) => cache.abandonFill(state.fill, !tooLarge))
      pipeline(payload as NodeJS.ReadableStream, capture, (err) => { if (err) cache.abandonFill(state.fill, true) })
      return done(null, capture)
    }
    const body = payload === null || payload === undefined ? EMPTY : Buffer.isBuffer(payload) ? payload : Buffer.from(String(payload))
    if (body.length > maxEntrySize) cache.abandonFill(state.fill)
    else store(cache, state, status, stored, body)
    done(null, payload)
  }

  const onRequestAbort: onRequestAbortHookHandler = async function cacheAbort (request) {
    const state = request.cacheState
    if (state instanceof Leader) cache.abandonFill(state.fill, true)
  }

  routeOptions.preHandler = append(routeOptions.preHandler, preHandler)
  routeOptions.onSend = append(routeOptions.onSend, onSend)
  routeOptions.onRequestAbort = append(routeOptions.onRequestAbort, onRequestAbort)
  routeOptions.config!.docs = { ...routeOptions.config!.docs, cache: { description: describeCache(config, ttl, settings.perUser) } }
}

function addInvalidateHook (app: FastifyInstance, cache: ResponseCache, routeOptions: RouteOptions, invalidates: string[]): void {
  const patterns: CompiledPattern[] = invalidates.map(compilePattern)
  const onSend: onSendHookHandler<unknown> = async function cacheInvalidate (request, reply, payload) {
    const method = request.method
    const status = reply.statusCode
    if (status < 200 || status > 299 || method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return payload
    const params = request.params as Record<string, string | undefined>
    const indexes = patterns.map(p => p.fill(params))
    try {
      await cache.purge(indexes)
    } catch (err) {
      // The write succeeded upstream; the client gets its answer. Entries expire by their TTL.
      request.log.warn({ err, indexes }, 'cache invalidation failed')
    }
    return payload
  }
  routeOptions.onSend = append(routeOptions.onSend, onSend)
  routeOptions.config!.docs = { ...routeOptions.config!.docs, invalidates: { description: `A 2xx purges cached ${invalidates.map(p => `\`${p}\``).join(', ')}.` } }
}

function append<T> (existing: T | T[] | undefined, hook: T): T[] {
  // Always a new array: the HEAD twin of a GET route starts from the same route options.
  if (existing === undefined) return [hook]
  return Array.isArray(existing) ? [...existing, hook] : [existing, hook]
}

function decide (app: FastifyInstance, request: FastifyRequest, state: Decided): void {
  request.cacheState = state
  app.metrics.cacheResult(state === BYPASS ? 'bypass' : 'miss')
}

function bypass (app: FastifyInstance, request: FastifyRequest): void {
  decide(app, request, BYPASS)
}

function serveHit (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, entry: CacheEntry, now: number): FastifyReply {
  app.metrics.cacheResult('hit')
  const age = String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))
  const headers = entry.headers
  if (notModified(request.headers, entry)) {
    request.cacheState = HIT
    reply.code(304)
    reply.header('etag', entry.etag)
    for (const name of NOT_MODIFIED_HEADERS) if (headers[name] !== undefined) reply.header(name, headers[name])
    reply.header('x-cache', 'HIT')
    reply.header('age', age)
    return reply.send()
  }
  request.cacheState = headers['content-type'] === undefined ? HIT_WITHOUT_TYPE : HIT
  reply.code(entry.status)
  reply.headers(headers)
  reply.header('x-cache', 'HIT')
  reply.header('age', age)
  // For HEAD, Fastify sends the headers (Content-Length of this body) and no body.
  return reply.send(entry.body)
}

function notModified (headers: IncomingHttpHeaders, entry: CacheEntry): boolean {
  const inm = headers['if-none-match']
  if (inm !== undefined) return etagMatches(inm, entry.etag)
  const ims = headers['if-modified-since']
  const lastModified = entry.headers['last-modified']
  if (ims === undefined || typeof lastModified !== 'string') return false
  const since = Date.parse(ims)
  return !Number.isNaN(since) && Date.parse(lastModified) <= since
}

/** The upstream's own `Vary` beyond the route's: the request must send what the stored one did. */
function varyMatches (entry: CacheEntry, headers: IncomingHttpHeaders): boolean {
  const vary = entry.vary
  if (vary === null) return true
  for (const name in vary) {
    const value = headers[name]
    if ((value === undefined ? '' : String(value)) !== vary[name]) return false
  }
  return true
}

interface Storable {
  headers: Record<string, string | string[]>
  vary: Record<string, string> | null
  ageMs: number
}

/** The headers to store when this response may be stored, else null. */
function storable (request: FastifyRequest, reply: FastifyReply, state: Leader): Storable | null {
  const settings = state.settings
  if (!settings.statuses.has(reply.statusCode)) return null
  const all = reply.getHeaders()
  if (all['set-cookie'] !== undefined) return null
  const cc = all['cache-control'] === undefined ? '' : String(all['cache-control'])
  if (cc !== '') {
    if (RESPONSE_NOT_STORED.test(cc)) return null
    if (!settings.perUser && RESPONSE_PRIVATE.test(cc)) return null
  }
  // RFC 9111 §3.5: on a public route, a response to a request with credentials (a token, or an
  // identity from a session) is stored only when the upstream says it may be shared.
  if (!settings.perUser && (request.headers.authorization !== undefined || request.identity !== null) && !RESPONSE_SHARED.test(cc)) return null
  const headers: Record<string, string | string[]> = {}
  const before = state.before
  for (const name in all) {
    const value = all[name]
    if (value === undefined || NOT_STORED.has(name) || before[name] === value) continue
    headers[name] = typeof value === 'number' ? String(value) : value
  }
  let vary: Record<string, string> | null = null
  if (headers.vary !== undefined) {
    for (const raw of String(headers.vary).split(',')) {
      const name = raw.trim().toLowerCase()
      if (name === '*') return null
      if (name === '' || settings.vary.includes(name)) continue
      const value = request.headers[name]
      vary ??= {}
      vary[name] = value === undefined ? '' : String(value)
    }
  }
  const age = Number(all.age)
  return { headers, vary, ageMs: age > 0 ? age * 1000 : 0 }
}

function store (cache: ResponseCache, state: Leader, status: number, stored: Storable, body: Buffer): void {
  const now = Date.now()
  const { headers } = stored
  const etag = typeof headers.etag === 'string' ? headers.etag : computeEtag(body)
  headers.etag = etag
  const settings = state.settings
  const entry: CacheEntry = { status, headers, body, storedAt: now - stored.ageMs, freshUntil: now + settings.ttl, etag, vary: stored.vary }
  cache.completeFill(state.fill, entry, settings.ttl + settings.staleMs, state.indexes)
}

/**
 * Passes the upstream body to the client unchanged while keeping a copy, up to `limit` bytes; past
 * that it stops copying and gives up the fill at once (waiting misses go upstream themselves).
 */
class CaptureStream extends Transform {
  private chunks: Buffer[] | null = []
  private size = 0

  constructor (private readonly limit: number, private readonly onBody: (body: Buffer) => void, private readonly onAbandon: (tooLarge: boolean) => void) {
    super()
  }

  _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.chunks !== null) {
      this.size += chunk.length
      if (this.size > this.limit) {
        this.chunks = null
        this.onAbandon(true)
      } else {
        this.chunks.push(chunk)
      }
    }
    callback(null, chunk)
  }

  _flush (callback: TransformCallback): void {
    const chunks = this.chunks
    this.chunks = null
    if (chunks !== null) this.onBody(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.size))
    callback()
  }

  _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    if (this.chunks !== null) {
      this.chunks = null
      this.onAbandon(false)
    }
    callback(err)
  }
}

export default fp(cachePlugin, {
  name: 'portico-cache',
  fastify: '5.x',
  dependencies: ['portico-redis', 'portico-request-context', 'portico-readiness']
})
