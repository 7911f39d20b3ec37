import { patternProblem } from './patterns.ts'
import { parseDuration } from '../config/units.ts'

/** A route's `cache` key after normalising (`true` → defaults); ttl undefined = CACHE_TTL. */
export interface RouteCacheConfig {
  ttl?: number
  /** Request headers whose values are part of the key (lowercase). */
  vary: string[]
  /** Upstream statuses that are stored. */
  statuses: number[]
}

export const DEFAULT_CACHED_STATUSES = [200]
const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS']
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

type CacheFile = boolean | { ttl?: string | number, vary?: string[], statuses?: number[] } | undefined

export function normaliseCache (cache: CacheFile): RouteCacheConfig | undefined {
  if (cache === undefined || cache === false) return undefined
  if (cache === true) return { vary: [], statuses: DEFAULT_CACHED_STATUSES }
  return {
    ttl: cache.ttl === undefined ? undefined : parseDuration(cache.ttl),
    vary: [...new Set((cache.vary ?? []).map(h => h.toLowerCase()))],
    statuses: cache.statuses ?? DEFAULT_CACHED_STATUSES
  }
}

/** Problems of a route's `cache` and `invalidates` that a schema cannot see (`at` = `routes[3]`). */
export function cacheConfigProblems (route: { path: string, methods?: readonly string[], cache?: CacheFile, invalidates?: string[] }, at: string, params: string[]): string[] {
  const problems: string[] = []
  const methods = route.methods ?? ALL_METHODS
  if (route.cache !== undefined && route.cache !== false) {
    if (!methods.includes('GET')) {
      problems.push(`${at}.cache: only GET responses are cached (HEAD is answered from the GET entry), but this route's methods are ${methods.join(', ')}; add GET or remove cache`)
    }
    if (typeof route.cache === 'object' && route.cache.ttl !== undefined && parseDuration(route.cache.ttl) <= 0) {
      problems.push(`${at}.cache.ttl: expected a duration above 0, got ${JSON.stringify(route.cache.ttl)}`)
    }
  }
  if (route.invalidates !== undefined) {
    if (methods.every(m => SAFE_METHODS.includes(m))) {
      problems.push(`${at}.invalidates: purges run after a 2xx of POST, PUT, PATCH or DELETE, but this route's methods are ${methods.join(', ')}`)
    }
    route.invalidates.forEach((pattern, j) => {
      const problem = patternProblem(pattern, params)
      if (problem !== null) problems.push(`${at}.invalidates[${j}]: ${problem}${problem.startsWith('parameter') ? ` ${JSON.stringify(route.path)}` : ''}`)
    })
  }
  return problems
}

/** The sentence /docs shows on a cached route. */
export function describeCache (cache: RouteCacheConfig, ttl: number, perUser: boolean): string {
  const parts = [`Cached by the gateway for ${formatDuration(ttl)}`]
  if (perUser) parts.push('per user')
  if (cache.vary.length > 0) parts.push(`varying on ${cache.vary.join(', ')}`)
  return `${parts.join(', ')} (\`X-Cache\`, \`Age\`, \`ETag\`; send \`Cache-Control: no-cache\` to refresh).`
}

export function formatDuration (ms: number): string {
  const units: Array<[number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1000, 's']]
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`
  return `${ms} ms`
}
