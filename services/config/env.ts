import { EnvSchema, type EnvField } from '../../schemas/env.ts'
import { parseDuration, parseSize } from './units.ts'
import { ConfigError } from './config-error.ts'
import { parsePublicKeyPem } from '../auth/key-algorithms.ts'
import { authEnvProblems } from '../auth/env-checks.ts'
import { parseTiers } from '../rate-limit/tiers.ts'
import type { RateLimitAlgorithm } from '../rate-limit/types.ts'

/** The decoded environment: durations in ms, sizes in bytes, booleans and integers as such. */
export interface GatewayEnv {
  PORT: number
  HOST: string
  GATEWAY_CONFIG?: string
  LOG_LEVEL: string
  UPSTREAM_TIMEOUT: number
  BODY_LIMIT: number
  CORS_ORIGINS?: string
  TRUST_PROXY: boolean | number | string
  ADMIN_TOKEN?: string
  SHUTDOWN_TIMEOUT: number
  REDIS_URL?: string
  REDIS_KEY_PREFIX: string
  RATE_LIMIT_MAX: number
  RATE_LIMIT_WINDOW: number
  /** Tier name → max per window. */
  RATE_LIMIT_TIERS: Record<string, number>
  RATE_LIMIT_ALGORITHM: RateLimitAlgorithm
  // tracking (issue 6)
  DATABASE_URL?: string
  DATA_DIR: string
  TRACKING_ENABLED: boolean
  TRACKING_MAX_BODY: number
  TRACKING_QUEUE_MAX: number
  TRACKING_QUEUE_MAX_BYTES: number
  TRACKING_BATCH_SIZE: number
  TRACKING_FLUSH_INTERVAL: number
  TRACKING_RETENTION: number
  CACHE_TTL: number
  CACHE_MAX_ENTRY: number
  CACHE_MAX_MEMORY: number
  /** Tracing is on when set; the SDK (tracing.ts) reads it and the other OTEL_* from process.env. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string
  OTEL_SERVICE_NAME: string
  // auth (issue 3)
  JWT_SECRET?: string
  /** SPKI PEM (escapes decoded); validated at load. */
  JWT_PUBLIC_KEY?: string
  JWKS_URL?: string
  JWT_ISSUER?: string
  JWT_AUDIENCE?: string
  AUTH_VERIFY_URL?: string
  AUTH_VERIFY_CACHE_TTL: number
  AUTH_VERIFY_TIMEOUT: number
  SESSION_COOKIE: string
  SESSION_TTL: number
  SESSION_COOKIE_SECURE: boolean
  RATE_LIMIT_TRUST_HEADERS: boolean
  REGISTRY_REFRESH_INTERVAL: number
}

/** Reads and validates every variable of `EnvSchema`; throws one ConfigError listing every bad one. */
export function loadEnv (source: Record<string, string | undefined> = process.env): GatewayEnv {
  const out: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, field] of Object.entries(EnvSchema.properties) as unknown as [string, EnvField][]) {
    const raw = source[name] === '' ? undefined : source[name]
    const value = raw ?? field.default as string | undefined
    if (value === undefined) continue
    const decoded = decode(field, value.trim())
    if (decoded === undefined) {
      problems.push(`${name}: expected ${field.expected ?? 'a string'}, got ${JSON.stringify(raw)}`)
    } else {
      out[name] = decoded
    }
  }
  problems.push(...authEnvProblems(out))
  if (problems.length > 0) throw new ConfigError('Invalid environment', problems)
  out.TRUST_PROXY = decodeTrustProxy(out.TRUST_PROXY as string)
  return out as unknown as GatewayEnv
}

function decode (field: EnvField, value: string): unknown {
  if (field.pattern && !new RegExp(field.pattern, 'i').test(value)) return undefined
  switch (field.kind) {
    case 'duration': {
      const ms = parseDuration(value)
      return Number.isNaN(ms) || ms < ((field.minimum as number | undefined) ?? 0) ? undefined : ms
    }
    case 'size': return nanToUndefined(parseSize(value))
    case 'boolean': return /^(true|1|yes)$/i.test(value)
    case 'integer': {
      const n = Number(value)
      return n >= (field.minimum as number) && n <= (field.maximum as number) ? n : undefined
    }
    case 'url': {
      try {
        const parsed = new URL(value)
        return field.protocols!.includes(parsed.protocol) ? value : undefined
      } catch {
        return undefined
      }
    }
    case 'pem': {
      try {
        return parsePublicKeyPem(value).pem
      } catch {
        return undefined
      }
    }
    case 'tiers': {
      const parsed = parseTiers(value)
      return 'tiers' in parsed ? parsed.tiers : undefined
    }
    default: return value
  }
}

function nanToUndefined (n: number): number | undefined {
  return Number.isNaN(n) ? undefined : n
}

// Fastify's trustProxy takes a boolean, a hop count, or addresses; the env gives a string.
function decodeTrustProxy (value: string): boolean | number | string {
  if (/^(true|false)$/i.test(value)) return value.toLowerCase() === 'true'
  if (/^\d+$/.test(value)) return Number(value)
  return value
}
