import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { UpstreamPluginOptionsSchema, type UpstreamPluginOptions } from '../../schemas/infrastructure.ts'
import { checkPluginOptions } from '../../schemas/plugin-options.ts'
import { MemoryRegistryStore, RedisRegistryStore, type TargetRegistryStore } from '../../services/upstream/registry-store.ts'
import { Upstreams } from '../../services/upstream/upstreams.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every service's targets, balancer, breakers, health checks and registry (issue 7). */
    upstreams: Upstreams
  }
}

export type { UpstreamPluginOptions }

/**
 * The upstream side of the proxy, outside the proxy's encapsulated context so that /health,
 * /health/ready, /metrics and the admin API can read it too. Background work (active health
 * checks, registry refresh) starts on ready and stops on close.
 */
async function upstreamPlugin (app: FastifyInstance, rawOpts: UpstreamPluginOptions): Promise<void> {
  const opts = checkPluginOptions('portico-upstream', UpstreamPluginOptionsSchema, rawOpts)
  const registry: TargetRegistryStore = app.storeIsShared && opts.keyPrefix !== undefined
    ? new RedisRegistryStore(app.redis, `${opts.keyPrefix}:registry:`)
    : new MemoryRegistryStore()
  const upstreams = new Upstreams({
    services: Object.values(opts.config.services),
    registry,
    registryRefreshInterval: opts.registryRefreshInterval,
    upstreamTimeout: opts.upstreamTimeout,
    log: app.log,
    onRegistryError: () => app.metrics.storeError('registry')
  })
  app.decorate('upstreams', upstreams)

  for (const name of upstreams.pools.keys()) {
    app.readiness.add(`service:${name}`, async () => ({ detail: await upstreams.readiness(name) }))
  }
  app.healthSummary.set('services', () => upstreams.summary())

  app.addHook('onReady', async () => {
    // The metrics plugin may have replaced app.metrics after this plugin registered.
    app.metrics.observeCircuits(() => upstreams.circuits())
    await upstreams.start()
  })
  app.addHook('onClose', async () => {
    await upstreams.close()
    await registry.close()
  })
}

export default fp(upstreamPlugin, { name: 'portico-upstream', fastify: '5.x', dependencies: ['portico-readiness', 'portico-redis'] })
