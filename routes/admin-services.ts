import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { DURATION_PATTERN, parseDuration } from '../services/config/units.ts'
import { RegistryUnavailableError, UnknownServiceError } from '../errors.ts'

const DEFAULT_TTL_MS = 30_000
const MAX_TTL_MS = 86_400_000

const Params = Type.Object({ name: Type.String({ description: 'Service name from the config file' }) })

const HeartbeatBody = Type.Object({
  url: Type.String({ pattern: '^https?://[^/]+', description: 'Base URL of the target (http or https)' }),
  ttl: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String({ pattern: DURATION_PATTERN })], { description: 'How long the target stays without another heartbeat (ms, or 500ms, 10s, 1m); default 30s' }))
}, { additionalProperties: false })

const TargetView = Type.Object({
  url: Type.String(),
  source: Type.Union([Type.Literal('config'), Type.Literal('registry')]),
  healthy: Type.Boolean(),
  circuit: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
  consecutiveFailures: Type.Integer(),
  active: Type.Integer({ description: 'Requests awaiting response headers' }),
  expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  lastProbeError: Type.Optional(Type.String())
})

const ServicesResponse = Type.Object({
  services: Type.Array(Type.Object({
    name: Type.String(),
    balance: Type.String(),
    retries: Type.Integer(),
    circuit: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
    activeHealthChecks: Type.Boolean(),
    targets: Type.Array(TargetView)
  }))
})

/**
 * The service registry's admin side (issue 7). An upstream (a pod, a VM) PUTs itself as a
 * heartbeat every few seconds with a TTL a bit longer than its period; when it stops, it drops
 * out of every gateway instance once the TTL runs out. Under /admin: bearer ADMIN_TOKEN.
 */
export default async function adminServices (app: FastifyInstance): Promise<void> {
  app.get('/services', {
    schema: { tags: ['Admin'], summary: 'Services, their targets, health and circuit state', response: { 200: ServicesResponse } }
  }, async () => ({ services: app.upstreams.snapshot() }))

  app.put<{ Params: Static<typeof Params>, Body: Static<typeof HeartbeatBody> }>('/services/:name/targets', {
    schema: {
      tags: ['Admin'],
      summary: 'Register a target of a service, or renew it (heartbeat)',
      params: Params,
      body: HeartbeatBody,
      response: {
        200: Type.Object({ service: Type.String(), url: Type.String(), ttl: Type.Integer({ description: 'ms' }), expiresAt: Type.String({ format: 'date-time' }), registered: Type.Boolean({ description: 'true when this heartbeat added the target' }) })
      }
    }
  }, async (request) => {
    const { name } = request.params
    if (!app.upstreams.has(name)) throw new UnknownServiceError(name)
    const url = normaliseUrl(request.body.url)
    const ttl = request.body.ttl === undefined ? DEFAULT_TTL_MS : parseDuration(request.body.ttl)
    if (!(ttl >= 1 && ttl <= MAX_TTL_MS)) throw Object.assign(new Error(`body/ttl must be between 1ms and 1d, got ${JSON.stringify(request.body.ttl)}`), { statusCode: 400 })
    try {
      const { expiresAt, isNew } = await app.upstreams.heartbeat(name, url, ttl)
      return { service: name, url, ttl, expiresAt: new Date(expiresAt).toISOString(), registered: isNew }
    } catch (err) {
      throw new RegistryUnavailableError({ cause: err })
    }
  })

  app.delete<{ Params: Static<typeof Params>, Querystring: { url: string } }>('/services/:name/targets', {
    schema: {
      tags: ['Admin'],
      summary: 'Remove a registered target at once (an upstream shutting down)',
      params: Params,
      querystring: Type.Object({ url: Type.String({ pattern: '^https?://[^/]+' }) }),
      response: { 200: Type.Object({ removed: Type.Boolean() }) }
    }
  }, async (request) => {
    const { name } = request.params
    if (!app.upstreams.has(name)) throw new UnknownServiceError(name)
    try {
      return { removed: await app.upstreams.deregister(name, normaliseUrl(request.query.url)) }
    } catch (err) {
      throw new RegistryUnavailableError({ cause: err })
    }
  })
}

function normaliseUrl (url: string): string {
  const parsed = new URL(url)
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw Object.assign(new Error(`body/url must be an http:// or https:// URL, got ${JSON.stringify(url)}`), { statusCode: 400 })
  return url.replace(/\/+$/, '')
}
