import { randomUUID } from 'node:crypto'
import type { KeyValueStore } from '../store/types.ts'
import type { Identity } from './identity.ts'
import { identityFromUser, serialiseIdentity } from './claims.ts'

export const DEFAULT_SESSION_TTL = 86_400_000

// Session ids are random v4 UUIDs; anything else in the cookie is forged and never reaches the store.
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/**
 * Gateway sessions (BFF): the identity a login returned, kept server-side under a random id
 * that is all the browser holds. Lives in the shared store (`<prefix>:cookie:<uuid>` in Redis,
 * or memory), so any gateway instance can read it. Store failures reject; the caller decides.
 */
export class SessionStore {
  constructor (private readonly store: KeyValueStore, private readonly ttl: number) {}

  static isSessionId (value: string): boolean {
    return value.length === 36 && SESSION_ID.test(value)
  }

  /** Stores the identity under a new id and returns the id. */
  async create (identity: Identity): Promise<string> {
    const id = randomUUID()
    await this.store.set(id, serialiseIdentity(identity), this.ttl)
    return id
  }

  /** The session's identity, or null when there is none (expired, deleted, never existed). */
  async get (id: string): Promise<Identity | null> {
    if (!SessionStore.isSessionId(id)) return null
    const value = await this.store.get(id)
    if (value === null) return null
    try {
      return identityFromUser(JSON.parse(value.toString('utf8')), 'session')
    } catch {
      return null
    }
  }

  async destroy (id: string): Promise<boolean> {
    if (!SessionStore.isSessionId(id)) return false
    return await this.store.delete(id)
  }
}
