import { createPublicKey, type JsonWebKey } from 'node:crypto'
import { request, type Dispatcher } from 'undici'
import { algorithmsForKey } from './key-algorithms.ts'

export const DEFAULT_JWKS_MAX_AGE = 10 * 60_000
export const DEFAULT_JWKS_REFETCH_INTERVAL = 10_000
export const DEFAULT_JWKS_TIMEOUT = 3000
const MAX_JWKS_BYTES = 1024 * 1024

/** One signing key of the set: its SPKI PEM and the algorithms its type allows. */
export interface JwksKey {
  kid?: string
  pem: string
  algorithms: string[]
}

export interface JwksKeyStoreOptions {
  url: string
  /** Keys older than this are refreshed in the background on next use (removed keys stop working). */
  maxAge?: number
  /** An unknown `kid` refetches the set at most once per this interval. */
  refetchInterval?: number
  /** Request timeout for the key set, ms. */
  timeout?: number
  dispatcher?: Dispatcher
  /** Told about background refresh failures (a request never waits on them). */
  onError?: (err: Error) => void
}

/**
 * The identity provider's key set (JWKS_URL), fetched once and cached by `kid`. An unknown
 * `kid` — the provider rotated its keys — triggers a refetch, at most one per
 * `refetchInterval` however many unknown kids arrive, and concurrent callers share one fetch:
 * rotation works without a restart, and a flood of made-up kids cannot turn the gateway into
 * a load generator against the provider. Stale sets are refreshed in the background.
 */
export class JwksKeyStore {
  private keys = new Map<string, JwksKey>()
  private keyList: JwksKey[] = []
  private fetchedAt = 0
  private lastRefetch = -Infinity
  private inflight: Promise<void> | null = null
  private readonly maxAge: number
  private readonly refetchInterval: number
  private readonly timeout: number
  /** How many times the set was fetched (for /health and tests). */
  fetches = 0

  constructor (private readonly options: JwksKeyStoreOptions) {
    this.maxAge = options.maxAge ?? DEFAULT_JWKS_MAX_AGE
    this.refetchInterval = options.refetchInterval ?? DEFAULT_JWKS_REFETCH_INTERVAL
    this.timeout = options.timeout ?? DEFAULT_JWKS_TIMEOUT
  }

  get size (): number { return this.keyList.length }

  /** The key for `kid` from the cached set (no fetch); a token without kid matches a one-key set. */
  cached (kid: string | undefined): JwksKey | undefined {
    if (this.fetchedAt !== 0 && Date.now() - this.fetchedAt > this.maxAge && this.inflight === null) {
      this.refresh().catch((err: Error) => this.options.onError?.(err))
    }
    if (kid === undefined) return this.keyList.length === 1 ? this.keyList[0] : undefined
    return this.keys.get(kid)
  }

  /**
   * The key for `kid`, fetching the set when it was never loaded or the kid is unknown (rate
   * limited). Resolves undefined when the kid is still unknown; rejects when the set cannot be
   * fetched and no answer is possible.
   */
  async get (kid: string | undefined): Promise<JwksKey | undefined> {
    const known = this.cached(kid)
    if (known !== undefined) return known
    if (this.fetchedAt === 0) {
      await this.refresh()
      return this.cached(kid)
    }
    if (this.inflight !== null) {
      await this.inflight
      return this.cached(kid)
    }
    if (Date.now() - this.lastRefetch < this.refetchInterval) return undefined
    this.lastRefetch = Date.now()
    await this.refresh()
    return this.cached(kid)
  }

  /** Fetches the set now (one fetch at a time; callers during a fetch share it). */
  refresh (): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = null })
    return this.inflight
  }

  private async load (): Promise<void> {
    this.fetches++
    const res = await request(this.options.url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      headersTimeout: this.timeout,
      bodyTimeout: this.timeout,
      dispatcher: this.options.dispatcher
    })
    if (res.statusCode !== 200) {
      await res.body.dump()
      throw new Error(`JWKS_URL answered ${res.statusCode}`)
    }
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of res.body) {
      size += chunk.length
      if (size > MAX_JWKS_BYTES) {
        res.body.destroy()
        throw new Error(`JWKS_URL answered more than ${MAX_JWKS_BYTES} bytes`)
      }
      chunks.push(chunk)
    }
    const { byKid, list } = parseJwks(Buffer.concat(chunks).toString('utf8'))
    this.keys = byKid
    this.keyList = list
    this.fetchedAt = Date.now()
  }
}

/** Parses a JWKS document; keys that cannot sign-verify (encryption keys, unknown types) are skipped. */
export function parseJwks (text: string): { byKid: Map<string, JwksKey>, list: JwksKey[] } {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new Error('JWKS_URL did not answer JSON')
  }
  const keys = (doc as { keys?: unknown })?.keys
  if (!Array.isArray(keys)) throw new Error('JWKS_URL answered JSON without a `keys` array')
  const byKid = new Map<string, JwksKey>()
  const list: JwksKey[] = []
  for (const jwk of keys as Array<JsonWebKey & { kid?: unknown, use?: unknown, alg?: unknown }>) {
    if (jwk === null || typeof jwk !== 'object') continue
    if (jwk.use !== undefined && jwk.use !== 'sig') continue
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC' && jwk.kty !== 'OKP') continue // never `oct`: no shared secrets over HTTP
    let entry: JwksKey
    try {
      const key = createPublicKey({ key: jwk, format: 'jwk' })
      let algorithms = algorithmsForKey(key)
      // A key that names its algorithm is pinned to it, if its type allows it at all.
      if (typeof jwk.alg === 'string') algorithms = algorithms.includes(jwk.alg) ? [jwk.alg] : []
      if (algorithms.length === 0) continue
      entry = { kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, pem: key.export({ type: 'spki', format: 'pem' }) as string, algorithms }
    } catch {
      continue
    }
    list.push(entry)
    if (entry.kid !== undefined) byKid.set(entry.kid, entry)
  }
  return { byKid, list }
}
