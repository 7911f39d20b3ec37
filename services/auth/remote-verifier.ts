import { createHash } from 'node:crypto'
import { Agent, request, type Dispatcher } from 'undici'
import type { KeyValueStore } from '../store/types.ts'
import type { Identity } from './identity.ts'
import { identityFromVerifyResponse, serialiseIdentity, identityFromUser } from './claims.ts'
import { AuthFailure, invalid, unavailable } from './auth-failure.ts'

export const DEFAULT_VERIFY_CACHE_TTL = 30_000
export const DEFAULT_VERIFY_TIMEOUT = 3000
const MAX_VERIFY_RESPONSE_BYTES = 64 * 1024
const INVALID = Buffer.from('0')

export interface RemoteVerifierOptions {
  /** AUTH_VERIFY_URL */
  url: string
  /** Where results are cached by token hash (shared between instances with Redis). */
  store: KeyValueStore
  /** How long a result is reused, ms; 0 = ask every time. */
  cacheTtl: number
  /** How long the verify service may take, ms, before the answer is 503. */
  timeout: number
  /** Told when the cache store fails (the request then goes to the verify service). */
  onStoreError?: (err: Error) => void
}

/**
 * Remote verification (AUTH_VERIFY_URL): `POST {"token"}` with the same token as
 * `Authorization: Bearer`. 200 with `{user_id, email?, scopes?, tier?}` is valid; 4xx is not
 * (401); a 5xx, 429, garbage 200, refused connection or timeout means the service cannot
 * answer now (503 — an auth outage must not log everybody out). Valid and invalid answers are
 * cached under `sha256(token)` — never the token itself — for `cacheTtl`, and concurrent
 * requests with one token share one call.
 */
export class RemoteVerifier {
  private readonly agent: Agent
  private readonly inflight = new Map<string, Promise<Identity>>()

  constructor (private readonly options: RemoteVerifierOptions) {
    this.agent = new Agent({ connections: 32, keepAliveTimeout: 30_000 })
  }

  async verify (token: string): Promise<Identity> {
    const key = createHash('sha256').update(token).digest('base64url')
    if (this.options.cacheTtl > 0) {
      const cached = await this.readCache(key)
      if (cached !== undefined) {
        if (cached === null) throw invalid('invalid token')
        return cached
      }
    }
    let pending = this.inflight.get(key)
    if (pending === undefined) {
      pending = this.ask(token, key).finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    return await pending
  }

  async close (): Promise<void> {
    await this.agent.close()
  }

  private async readCache (key: string): Promise<Identity | null | undefined> {
    let value: Buffer | null
    try {
      value = await this.options.store.get(key)
    } catch (err) {
      this.options.onStoreError?.(err as Error)
      return undefined
    }
    if (value === null) return undefined
    if (value.equals(INVALID)) return null
    try {
      return identityFromUser(JSON.parse(value.toString('utf8')), 'remote')
    } catch {
      return undefined
    }
  }

  private writeCache (key: string, value: Buffer | string): void {
    if (this.options.cacheTtl <= 0) return
    this.options.store.set(key, value, this.options.cacheTtl).catch((err: Error) => this.options.onStoreError?.(err))
  }

  private async ask (token: string, key: string): Promise<Identity> {
    let res: Dispatcher.ResponseData
    try {
      res = await request(this.options.url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ token }),
        headersTimeout: this.options.timeout,
        bodyTimeout: this.options.timeout
      })
    } catch (err) {
      throw unavailable('auth service', err)
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => {})
      if (res.statusCode >= 500 || res.statusCode === 429) throw unavailable('auth service', new Error(`verify service answered ${res.statusCode}`))
      this.writeCache(key, INVALID)
      throw invalid('invalid token')
    }
    let identity: Identity
    try {
      const text = await readLimited(res.body, MAX_VERIFY_RESPONSE_BYTES)
      const body = JSON.parse(text) as unknown
      if (body === null || typeof body !== 'object') throw new Error('verify service answered 200 without a JSON object')
      identity = identityFromVerifyResponse(body as Record<string, unknown>)
    } catch (err) {
      // A 200 we cannot read says nothing about the token: the service is broken, not the client.
      throw unavailable('auth service', err instanceof AuthFailure ? new Error(`verify service: ${err.message}`) : err)
    }
    this.writeCache(key, serialiseIdentity(identity))
    return identity
  }
}

async function readLimited (body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > limit) {
      body.destroy()
      throw new Error(`verify service answered more than ${limit} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
