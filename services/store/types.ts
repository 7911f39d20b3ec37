/**
 * The shared-state contract every concern builds on (sessions, verified-token cache, registry...).
 * One interface, two implementations: in-process memory (one instance) and Redis (many instances
 * share it). Keys are namespaced with `child()`, values are bytes so nothing is re-encoded.
 */
export interface KeyValueStore {
  /** The value, or null when absent or expired. Rejects when the backing store is unreachable. */
  get (key: string): Promise<Buffer | null>
  /** Stores `value` for `ttlMs` milliseconds (0 = no expiry). */
  set (key: string, value: Buffer | string, ttlMs: number): Promise<void>
  /** Removes the key; resolves true when it existed. */
  delete (key: string): Promise<boolean>
  /** A view of this store whose keys all live under `<prefix>:<namespace>:`. */
  child (namespace: string): KeyValueStore
  /** Releases what the store owns (timers, connections it created). */
  close (): Promise<void>
}
