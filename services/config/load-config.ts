import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { Value } from '@sinclair/typebox/value'
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors'
import type { TSchema } from '@sinclair/typebox'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { ConfigFileSchema, HTTP_METHODS, type ConfigFile, type RouteFile } from '../../schemas/config.ts'
import { ConfigError } from './config-error.ts'
import { parseDuration, parseSize } from './units.ts'
import type { RouteRateLimit } from '../rate-limit/types.ts'
import { cacheConfigProblems, normaliseCache, type RouteCacheConfig } from '../cache/route-config.ts'

export type HttpMethod = typeof HTTP_METHODS[number]

export interface ServiceConfig {
  name: string
  /** The first target ('' when only registered targets serve it); `urls` has them all. */
  url: string
  urls: string[]
  timeout?: number
  // resilience (issue 7)
  retries: number
  balance: 'round-robin' | 'least-connections'
  health?: ServiceHealthConfig
  circuitBreaker: { failureThreshold: number, resetTimeout: number } | false
}

export interface ServiceHealthConfig {
  path: string
  /** Active checks run only when set (ms). */
  interval?: number
  timeout: number
  healthyThreshold: number
  unhealthyThreshold: number
}

export const DEFAULT_HEALTH_TIMEOUT_MS = 2000
export const DEFAULT_HEALTHY_THRESHOLD = 2
export const DEFAULT_UNHEALTHY_THRESHOLD = 3
export const DEFAULT_FAILURE_THRESHOLD = 5
export const DEFAULT_RESET_TIMEOUT_MS = 30_000

export interface RouteConfig {
  path: string
  methods: HttpMethod[]
  service: string
  upstreamPath: string
  timeout?: number
  bodyLimit?: number
  summary?: string
  description?: string
  tags: string[]
  /** Record this route's requests (tracking); default true. */
  track: boolean
  schema?: RouteFile['schema']
  /** rate limit (issue 4): undefined = the env defaults; false = not limited. */
  rateLimit?: RouteRateLimit | false
  cache?: RouteCacheConfig
  invalidates?: string[]
  /** none | optional | required; `required` when only `scopes` were given. */
  auth: 'none' | 'optional' | 'required'
  /** Scopes an identity must all hold (empty: none). */
  scopes: string[]
  session?: 'create' | 'destroy'
}

export interface GatewayConfig {
  file: string
  services: Record<string, ServiceConfig>
  routes: RouteConfig[]
}

/** Reads, validates and normalises a config file; every user mistake becomes one ConfigError. */
export function loadConfigFile (file: string): GatewayConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`Cannot read config file ${file}`, [(err as Error).message])
  }
  return parseConfig(text, file)
}

export function parseConfig (text: string, file: string): GatewayConfig {
  const raw = parseText(text, file)
  const problems = schemaProblems(raw)
  if (problems.length === 0) problems.push(...semanticProblems(raw as ConfigFile))
  if (problems.length > 0) throw new ConfigError(`Invalid config file ${file}`, problems)
  return normalise(raw as ConfigFile, file)
}

function parseText (text: string, file: string): unknown {
  try {
    return extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text)
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : ''
    throw new ConfigError(`Invalid config file ${file}`, [`not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}${where}: ${(err as Error).message.split('\n')[0]}`])
  }
}

/** `/routes/3/cache/ttl` → `routes[3].cache.ttl` */
export function formatPath (pointer: string): string {
  let out = ''
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~')
    out += /^\d+$/.test(key) ? `[${key}]` : (out === '' ? key : `.${key}`)
  }
  return out || '(top level)'
}

function schemaProblems (raw: unknown): string[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return ['(top level): expected an object with `services` and `routes`']
  const seen = new Set<string>()
  const problems: string[] = []
  for (const error of expandUnions(Value.Errors(ConfigFileSchema, raw))) {
    const message = describe(error)
    // One message per place: a union that fails reports each of its branches too.
    if (message === undefined || [...seen].some(p => error.path.startsWith(p + '/') || error.path === p)) continue
    seen.add(error.path)
    problems.push(`${formatPath(error.path)}: ${message}`)
  }
  return problems
}

// `cache: { ttl: 'soon' }` fails the union `true | false | {...}` as a whole; report what is wrong
// inside the object branch instead, so the message names `routes[1].cache.ttl`.
function * expandUnions (errors: Iterable<ValueError>): Generator<ValueError> {
  for (const error of errors) {
    if (error.type === ValueErrorType.Union && error.value !== null && typeof error.value === 'object' && !Array.isArray(error.value)) {
      const branch = ((error.schema.anyOf as TSchema[] | undefined) ?? []).findIndex(s => s.type === 'object')
      if (branch !== -1) {
        yield * expandUnions(error.errors[branch])
        continue
      }
    }
    yield error
  }
}

function describe (error: ValueError): string | undefined {
  const schema = error.schema as TSchema & { expected?: string }
  const got = JSON.stringify(error.value)
  if (error.type === ValueErrorType.ObjectAdditionalProperties) return `unknown key; expected one of ${Object.keys(error.schema.properties ?? {}).join(', ')}`
  if (error.type === ValueErrorType.ObjectRequiredProperty) return 'is required'
  if (schema.expected) return `expected ${schema.expected}, got ${got}`
  if (error.type === ValueErrorType.Union) return `expected ${unionExpected(schema)}, got ${got}`
  return `${error.message.charAt(0).toLowerCase()}${error.message.slice(1)}, got ${got}`
}

function unionExpected (schema: TSchema): string {
  const options = (schema.anyOf as TSchema[] | undefined) ?? []
  return options.map(o => o.const !== undefined ? JSON.stringify(o.const) : (o.expected ?? o.type)).join(' or ')
}

function semanticProblems (config: ConfigFile): string[] {
  const problems: string[] = []
  const ajv = new Ajv({ strict: false })
  addFormats.default(ajv)
  const seenRoutes = new Map<string, number>()
  config.routes.forEach((route, i) => {
    const at = `routes[${i}]`
    if (!Object.hasOwn(config.services, route.service)) {
      const known = Object.keys(config.services)
      problems.push(`${at}.service: unknown service ${JSON.stringify(route.service)}; expected one of ${known.length ? known.join(', ') : '(no services defined)'}`)
    }
    const wildcard = route.path.endsWith('*')
    // rate limit (issue 4)
    if (route.rateLimit && route.rateLimit.window !== undefined && parseDuration(route.rateLimit.window) === 0) {
      problems.push(`${at}.rateLimit.window: expected a duration above 0, got ${JSON.stringify(route.rateLimit.window)}`)
    }
    if (route.path.includes('*') && !wildcard) problems.push(`${at}.path: a wildcard is only allowed as the last character, got ${JSON.stringify(route.path)}`)
    if (route.upstreamPath !== undefined) {
      if (wildcard !== route.upstreamPath.endsWith('*')) {
        problems.push(`${at}.upstreamPath: ${wildcard ? 'a wildcard route needs an upstreamPath ending in *' : 'only a wildcard route may end in *'}, got ${JSON.stringify(route.upstreamPath)}`)
      }
      const params = new Set(paramNames(route.path))
      for (const name of paramNames(route.upstreamPath)) {
        if (!params.has(name)) problems.push(`${at}.upstreamPath: parameter :${name} is not in the route path ${JSON.stringify(route.path)}`)
      }
    }
    if (route.scopes !== undefined && route.auth !== undefined && route.auth !== 'required') {
      problems.push(`${at}.scopes: scopes need auth: required, got auth: ${JSON.stringify(route.auth)}`)
    }
    for (const method of route.methods ?? HTTP_METHODS) {
      const key = `${method} ${route.path}`
      const first = seenRoutes.get(key)
      if (first !== undefined) problems.push(`${at}: ${key} is already declared by routes[${first}]`)
      else seenRoutes.set(key, i)
    }
    problems.push(...cacheConfigProblems(route, at, paramNames(route.path)))
    for (const [part, schema] of Object.entries(route.schema ?? {})) {
      const schemas = part === 'response' ? Object.entries(schema as Record<string, object>).map(([code, s]) => [`response.${code}`, s] as const) : [[part, schema] as const]
      for (const [name, s] of schemas) {
        try {
          ajv.compile(s as object)
        } catch (err) {
          problems.push(`${at}.schema.${name}: invalid JSON Schema: ${(err as Error).message}`)
        }
      }
    }
  })
  for (const [name, service] of Object.entries(config.services)) {
    if ((service.url === undefined) === (service.urls === undefined)) {
      problems.push(`services.${name}: expected exactly one of \`url\` or \`urls\`, got ${service.url === undefined ? 'neither' : 'both'}`)
    }
    const urls = service.urls ?? (service.url === undefined ? [] : [service.url])
    urls.forEach((u, i) => {
      try {
        // eslint-disable-next-line no-new
        new URL(u)
      } catch {
        problems.push(`services.${name}.${service.urls ? `urls[${i}]` : 'url'}: expected an http:// or https:// URL, got ${JSON.stringify(u)}`)
      }
    })
    const health = service.health
    if (health?.interval !== undefined && health.timeout !== undefined && parseDuration(health.timeout) >= parseDuration(health.interval)) {
      problems.push(`services.${name}.health.timeout: expected less than health.interval (${health.interval}), got ${JSON.stringify(health.timeout)}`)
    }
    if (health?.interval !== undefined && parseDuration(health.interval) < 1) {
      problems.push(`services.${name}.health.interval: expected a duration of at least 1ms, got ${JSON.stringify(health.interval)}`)
    }
  }
  return problems
}

export function paramNames (path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => m[1])
}

function normalise (config: ConfigFile, file: string): GatewayConfig {
  const services: Record<string, ServiceConfig> = {}
  for (const [name, s] of Object.entries(config.services)) {
    const urls = (s.urls ?? [s.url!]).map(u => u.replace(/\/+$/, ''))
    services[name] = {
      name,
      url: urls[0] ?? '',
      urls,
      timeout: optional(s.timeout, parseDuration),
      retries: s.retries ?? 0,
      balance: s.balance ?? 'round-robin',
      health: s.health && {
        path: s.health.path,
        interval: optional(s.health.interval, parseDuration),
        timeout: optional(s.health.timeout, parseDuration) ?? Math.min(DEFAULT_HEALTH_TIMEOUT_MS, optional(s.health.interval, parseDuration) ?? Infinity),
        healthyThreshold: s.health.healthyThreshold ?? DEFAULT_HEALTHY_THRESHOLD,
        unhealthyThreshold: s.health.unhealthyThreshold ?? DEFAULT_UNHEALTHY_THRESHOLD
      },
      circuitBreaker: s.circuitBreaker === false
        ? false
        : {
            failureThreshold: s.circuitBreaker?.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
            resetTimeout: optional(s.circuitBreaker?.resetTimeout, parseDuration) ?? DEFAULT_RESET_TIMEOUT_MS
          }
    }
  }
  const routes = config.routes.map((r): RouteConfig => ({
    path: r.path,
    methods: [...(r.methods ?? HTTP_METHODS)],
    service: r.service,
    upstreamPath: r.upstreamPath ?? r.path,
    timeout: optional(r.timeout, parseDuration),
    bodyLimit: optional(r.bodyLimit, parseSize),
    summary: r.summary,
    description: r.description,
    tags: r.tags ?? [r.service],
    track: r.track ?? true,
    schema: r.schema,
    rateLimit: r.rateLimit === undefined || r.rateLimit === false
      ? r.rateLimit
      : { max: r.rateLimit.max, window: optional(r.rateLimit.window, parseDuration), key: r.rateLimit.key },
    cache: normaliseCache(r.cache),
    invalidates: r.invalidates,
    auth: r.auth ?? (r.scopes !== undefined ? 'required' : 'none'),
    scopes: r.scopes ?? [],
    session: r.session
  }))
  return { file, services, routes }
}

function optional<T> (value: T | undefined, parse: (v: T) => number): number | undefined {
  return value === undefined ? undefined : parse(value)
}
