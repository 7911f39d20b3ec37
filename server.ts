import { buildApp, REDACTED_LOG_PATHS } from './app.ts'
import { loadEnv, type GatewayEnv } from './services/config/env.ts'
import { loadConfigFile } from './services/config/load-config.ts'
import { ConfigError } from './services/config/config-error.ts'
import { exampleConfigPath, startExampleServices } from './examples/services/index.ts'
import { shutdownTracing } from './services/tracing/shutdown.ts'
import { EXAMPLE_JWT_SECRET } from './examples/services/auth.ts'

/**
 * Reads env and config, builds the app, listens, and shuts down gracefully. User mistakes print
 * one clear message and exit 1; nothing else lives here.
 */
async function main (): Promise<void> {
  let env: GatewayEnv
  try {
    env = loadEnv()
  } catch (err) {
    return fail(err)
  }

  // No GATEWAY_CONFIG: the bundled example config, with its example services beside the gateway.
  const examples = env.GATEWAY_CONFIG === undefined ? await startExampleServices() : undefined
  // The example auth service signs with EXAMPLE_JWT_SECRET: verify with it unless told otherwise.
  if (examples && !env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWKS_URL && !env.AUTH_VERIFY_URL) env = { ...env, JWT_SECRET: EXAMPLE_JWT_SECRET }
  let config
  try {
    config = loadConfigFile(env.GATEWAY_CONFIG ?? exampleConfigPath)
  } catch (err) {
    await examples?.close()
    return fail(err)
  }

  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp({
      env,
      config,
      logger: { level: env.LOG_LEVEL, redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' } }
    })
    await app.ready()
  } catch (err) {
    await examples?.close()
    return fail(err)
  }

  let closing = false
  const shutdown = (signal: string) => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: draining in-flight requests')
    // In-flight requests get SHUTDOWN_TIMEOUT to finish; then remaining sockets are cut.
    const force = setTimeout(() => {
      app.log.warn('shutdown timeout reached, closing remaining connections')
      app.server.closeAllConnections()
    }, env.SHUTDOWN_TIMEOUT)
    force.unref()
    app.close()
      .then(() => examples?.close())
      // Spans still buffered by tracing (tracing.ts) are exported before the process exits.
      .then(() => shutdownTracing())
      .then(() => { app.log.info('shut down cleanly'); process.exit(0) })
      .catch((err) => { app.log.error({ err }, 'error while shutting down'); process.exit(1) })
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))

  try {
    await app.listen({ port: env.PORT, host: env.HOST })
  } catch (err) {
    app.log.error({ err }, 'could not start')
    await app.close().catch(() => {})
    await examples?.close()
    process.exit(1)
  }
  if (examples) app.log.info({ services: examples.urls }, 'example services started (no GATEWAY_CONFIG set)')
}

function fail (err: unknown): void {
  if (err instanceof ConfigError) {
    process.stderr.write(err.message + '\n')
  } else {
    process.stderr.write(`Start-up failed: ${(err as Error).message}\n`)
  }
  process.exit(1)
}

await main()
