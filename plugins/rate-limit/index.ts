import fp from 'fastify-plugin'
import fastifyRateLimit, { normalizeIP, type RateLimitOptions as LibraryOptions } from '@fastify/rate-limit'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import type { GatewayEnv } from '../../services/config/env.ts'
import { RateLimitOptionsSchema, type RateLimitOptions } from '../../schemas/rate-limit.ts'
import { ErrorResponse } from '../../schemas/gateway-api.ts'
import { RateLimitedError, RateLimitStoreUnavailableError } from '../../errors.ts'
import { ANONYMOUS_TIER } from '../../services/auth/identity.ts'
import type { RateLimitHit, RateLimitStore } from '../../services/rate-limit/types.ts'
import { MemoryRateLimitStore } from '../../services/rate-limit/memory-store.ts'
import { RedisRateLimitStore } from '../../services/rate-limit/redis-store.ts'
import { tierLimits } from '../../services/rate-limit/tiers.ts'

export type RateLimitPluginOptions = Omit<RateLimitOptions, 'failOpen' | 'hook'> & Partial<Pick<RateLimitOptions, 'failOpen' | 'hook'>>

// Long header values would make long store keys; the first 256 characters identify a client.
const MAX_HEADER_KEY_LENGTH = 256

/** The plugin's options as the environment sets them. */
export function rateLimitOptions (env: GatewayEnv): RateLimitPluginOptions {
  return {
    max: env.RATE_LIMIT_MAX,
    window: env.RATE_LIMIT_WINDOW,
    tiers: env.RATE_LIMIT_TIERS,
    algorithm: env.RATE_LIMIT_ALGORITHM,
    keyPrefix: env.REDIS_KEY_PREFIX
  }
}

type KeyGenerator = (request: FastifyRequest) => string
type StoreCallback = (error: Error | null, result?: RateLimitHit) => void

/**
 * Per-client, per-route limits on every proxied route, on @fastify/rate-limit: it owns the
 * headers (draft-spec RateLimit-*, Retry-After), the 429 path and skip-on-error; Portico supplies
 * the store (memory, or Redis shared by every instance), the keys (user, ip, header) and the tier
 * limits. Everything a route needs is resolved once in onRoute; a route with `rateLimit: false`
 * and the gateway's own endpoints get no hook at all.
 */
async function rateLimit (app: FastifyInstance, rawOptions: RateLimitPluginOptions): Promise<void> {
  const options = checkPluginOptions('portico-rate-limit', RateLimitOptionsSchema, rawOptions)
  const store: RateLimitStore = app.storeIsShared
    ? new RedisRateLimitStore(app.redis, `${options.keyPrefix}:rate-limit:${options.algorithm}:`, options.algorithm)
    : new MemoryRateLimitStore({ algorithm: options.algorithm })
  app.addHook('onClose', async () => { await store.close() })

  // One warning per outage, not one per request: `down` flips on the first failure and back on
  // the first success. Every failure is counted.
  let down = false
  const failed = (err: Error): Error => {
    app.metrics.storeError('rate-limit')
    if (!down) {
      down = true
      app.log.warn({ err }, options.failOpen
        ? 'rate-limit store unavailable: requests pass without a limit until it returns'
        : 'rate-limit store unavailable: limited routes answer 503 until it returns')
    }
    return options.failOpen ? err : new RateLimitStoreUnavailableError()
  }
  const recovered = (): void => {
    down = false
    app.log.info('rate-limit store available again: limits apply')
  }

  /** @fastify/rate-limit's callback store interface over ours; `child` gives each route its key space. */
  class LibraryStore {
    private readonly routeId: string
    // The library constructs the root store with its options; only children (one per route) count.
    constructor (routeId?: unknown) {
      this.routeId = typeof routeId === 'string' ? routeId : ''
    }

    incr (key: string, callback: StoreCallback, windowMs: number, max: number): void {
      store.hit(this.routeId + key, windowMs, max).then(
        (hit) => { if (down) recovered(); callback(null, hit) },
        (err: Error) => callback(failed(err))
      )
    }

    // The merged options of `app.rateLimit({ routeId, ... })` below.
    child (params: object): LibraryStore {
      return new LibraryStore((params as { routeId?: string }).routeId)
    }
  }

  await app.register(fastifyRateLimit, {
    global: false,
    enableDraftSpec: true,
    hook: options.hook,
    store: LibraryStore,
    skipOnError: options.failOpen,
    max: options.max,
    timeWindow: options.window,
    errorResponseBuilder: (_request, context) => new RateLimitedError(context.after),
    onExceeded: (request) => app.metrics.rateLimited(request.routeOptions.url ?? '')
  })

  const tierMax = tierLimits(options.tiers, options.max)
  const maxByTier = (request: FastifyRequest): number => tierMax(request.identity?.tier ?? ANONYMOUS_TIER)

  app.addHook('onRoute', (routeOptions) => {
    const route = routeOptions.config?.route
    if (route === undefined || route.rateLimit === false) return
    const own = route.rateLimit ?? {}
    const key = own.key ?? 'user'
    const window = own.window ?? options.window
    const limiter = app.rateLimit({
      hook: options.hook,
      max: own.max ?? maxByTier,
      timeWindow: window,
      keyGenerator: keyGenerator(key),
      // The count is per route (contract §4): a HEAD route Fastify adds for a GET shares it.
      routeId: `${route.methods[0]}:${route.path}:`
    } as LibraryOptions)
    const existing = routeOptions[options.hook]
    routeOptions[options.hook] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]), limiter] as never
    documentLimit(routeOptions, describeLimit(own.max, window, key, options))
  })

  if (app.hasDecorator('healthSummary')) {
    app.healthSummary.set('rateLimit', () => ({
      store: app.storeIsShared ? 'redis' : 'memory',
      algorithm: options.algorithm,
      storeAvailable: !down
    }))
  }
}

function ipKey (request: FastifyRequest): string {
  // request.ip honours TRUST_PROXY; IPv6 clients are grouped by /64 (one host usually has a whole /64).
  return 'ip:' + normalizeIP(request.ip)
}

function userKey (request: FastifyRequest): string {
  const identity = request.identity
  return identity != null ? 'user:' + identity.id : ipKey(request)
}

/** `user` | `ip` | `header:<name>`; a request without the header is counted by its IP. */
export function keyGenerator (key: string): KeyGenerator {
  if (key === 'ip') return ipKey
  if (key === 'user') return userKey
  if (key.startsWith('header:')) {
    const name = key.slice('header:'.length).toLowerCase()
    return (request) => {
      const value = request.headers[name]
      return typeof value === 'string' && value !== ''
        ? 'header:' + value.slice(0, MAX_HEADER_KEY_LENGTH)
        : ipKey(request)
    }
  }
  throw new Error(`unknown rate-limit key ${JSON.stringify(key)}; expected user, ip or header:<name>`)
}

function describeLimit (max: number | undefined, windowMs: number, key: string, options: RateLimitOptions): string {
  const per = formatWindow(windowMs)
  const who = key === 'user' ? 'user (client IP when anonymous)' : key === 'ip' ? 'client IP' : `\`${key.slice('header:'.length)}\` header value (client IP without it)`
  const tiers = Object.entries(options.tiers)
  const limit = max !== undefined || tiers.length === 0
    ? `${max ?? options.max} requests per ${per}`
    : `by tier, per ${per}: ${tiers.map(([tier, n]) => `${tier} ${n}`).join(', ')}, any other ${options.max}`
  return `Rate limited: ${limit}, counted per ${who} on this route. ` +
    'Every response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset; a 429 carries Retry-After (seconds).'
}

function formatWindow (ms: number): string {
  for (const [unit, size] of [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000], ['second', 1000]] as const) {
    if (ms % size === 0) return ms === size ? unit : `${ms / size} ${unit}s`
  }
  return `${ms} ms`
}

/** Adds 429 to the route's schema, which @fastify/swagger reads for /docs (and Fastify serializes 429s with). */
function documentLimit (routeOptions: RouteOptions, description: string): void {
  const schema = routeOptions.schema ?? {}
  const response = { ...(schema.response as Record<string, unknown> | undefined) }
  if ('429' in response) return
  response[429] = { ...ErrorResponse, description }
  routeOptions.schema = { ...schema, response }
}

export default fp(rateLimit, {
  name: 'portico-rate-limit',
  fastify: '5.x',
  dependencies: ['portico-redis', 'portico-error-handler', 'portico-request-context']
})
