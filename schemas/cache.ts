import { Type, type Static } from '@sinclair/typebox'

/** Options of the cache plugin (`plugins/cache`), decoded from CACHE_* and REDIS_KEY_PREFIX. */
export const CachePluginOptionsSchema = Type.Object({
  ttl: Type.Integer({ minimum: 0, description: 'TTL of `cache: true` routes, ms (CACHE_TTL); 0 turns those routes\' caching off' }),
  maxEntrySize: Type.Integer({ minimum: 0, description: 'Largest body stored, bytes (CACHE_MAX_ENTRY)' }),
  maxMemory: Type.Integer({ minimum: 0, description: 'Bound of the in-process store, bytes (CACHE_MAX_MEMORY); unused with Redis' }),
  keyPrefix: Type.String({ minLength: 1, description: 'REDIS_KEY_PREFIX: entries live under `<prefix>:cache:`' })
}, { additionalProperties: false })

export type CachePluginOptions = Static<typeof CachePluginOptionsSchema>
