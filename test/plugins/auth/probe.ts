import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../../app.ts'
import { testConfig, testEnv, type BuildOptions, type TestContext } from '../../helper.ts'
import type { Identity } from '../../../services/auth/identity.ts'

/** Like helper.build, with a hook that reports `request.identity` after each response. */
export async function buildProbed (t: TestContext, opts: BuildOptions, probe: (identity: Identity | null) => void): Promise<FastifyInstance> {
  const app = await buildApp({ env: testEnv(opts.env), config: testConfig(opts.config), logger: false })
  t.teardown(() => app.close())
  app.addHook('onResponse', async (request) => { probe(request.identity) })
  await app.ready()
  return app
}
