import { Type, type Static } from '@sinclair/typebox'

/** Options of the rate-limit plugin (plugins/rate-limit), built by app.ts from the env. */
export const RateLimitOptionsSchema = Type.Object({
  max: Type.Integer({ minimum: 1, description: 'RATE_LIMIT_MAX: requests per window for a tier `tiers` does not name' }),
  window: Type.Integer({ minimum: 1, description: 'RATE_LIMIT_WINDOW in ms' }),
  tiers: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { description: 'RATE_LIMIT_TIERS: tier name → max per window' }),
  algorithm: Type.Union([Type.Literal('fixed-window'), Type.Literal('gcra')], { description: 'RATE_LIMIT_ALGORITHM' }),
  keyPrefix: Type.String({ description: 'REDIS_KEY_PREFIX; keys are `<prefix>:rate-limit:<algorithm>:<route>:<client>`' }),
  failOpen: Type.Boolean({ default: true, description: 'Store unreachable: true lets requests through unlimited (logged once per outage, counted); false answers 503' }),
  hook: Type.Union([Type.Literal('onRequest'), Type.Literal('preHandler')], { default: 'onRequest', description: 'Lifecycle hook the limit runs in; must come after the one that sets request.identity' })
}, { additionalProperties: false })

export type RateLimitOptions = Static<typeof RateLimitOptionsSchema>
