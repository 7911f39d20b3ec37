import { Type, type Static } from '@sinclair/typebox'

/** Options of the redis plugin (`plugins/redis`): REDIS_URL and REDIS_KEY_PREFIX. */
export const RedisPluginOptionsSchema = Type.Object({
  url: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'REDIS_URL; absent = in-process memory stores' })),
  keyPrefix: Type.String({ minLength: 1, description: 'REDIS_KEY_PREFIX: every key Portico writes starts with `<prefix>:`' })
}, { additionalProperties: false })

export type RedisPluginOptions = Static<typeof RedisPluginOptionsSchema>

/** The gateway config (schemas/config.ts), already validated by load-config: here only its shape. */
const LoadedConfig = Type.Unsafe<import('../services/config/load-config.ts').GatewayConfig>(Type.Object({
  services: Type.Object({}, { additionalProperties: true }),
  routes: Type.Array(Type.Object({}, { additionalProperties: true }))
}, { additionalProperties: true, description: 'The loaded config file (services and routes)' }))

const UpstreamTimeout = Type.Integer({ minimum: 0, description: 'UPSTREAM_TIMEOUT: default wait for an upstream\'s response headers, ms; 0 waits without a deadline' })

/** Options of the upstream plugin (`plugins/upstream`): targets, balancing, breakers, the registry. */
export const UpstreamPluginOptionsSchema = Type.Object({
  config: LoadedConfig,
  upstreamTimeout: UpstreamTimeout,
  registryRefreshInterval: Type.Integer({ minimum: 1, description: 'REGISTRY_REFRESH_INTERVAL: how often the registry is re-read, ms' }),
  keyPrefix: Type.Optional(Type.String({ minLength: 1, description: 'REDIS_KEY_PREFIX: registry keys are `<prefix>:registry:<service>`; absent keeps the registry in this process' }))
}, { additionalProperties: false })

export type UpstreamPluginOptions = Static<typeof UpstreamPluginOptionsSchema>

/** Options of the proxy plugin (`plugins/proxy`): the declared routes and their defaults. */
export const ProxyPluginOptionsSchema = Type.Object({
  config: LoadedConfig,
  upstreamTimeout: UpstreamTimeout,
  bodyLimit: Type.Integer({ minimum: 0, description: 'BODY_LIMIT: default request body limit, bytes' })
}, { additionalProperties: false })

export type ProxyPluginOptions = Static<typeof ProxyPluginOptionsSchema>
