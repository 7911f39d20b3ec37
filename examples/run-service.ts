import { EXAMPLE_PORTS, exampleServices, type ExampleServiceName } from './services/index.ts'

/**
 * Runs ONE example upstream by name — `node dist/examples/run-service.js users` (or through tsx
 * from source) — so docker-compose can run users, products, orders and auth as containers of
 * their own from the gateway's image. PORT defaults to the service's port in the example config
 * (8001-8004), HOST to 0.0.0.0; the auth service signs with JWT_SECRET when it is set.
 */
const USAGE = `Usage: run-service <${Object.keys(EXAMPLE_PORTS).join('|')}>   (env PORT, HOST, JWT_SECRET)\n`

function fail (message: string): never {
  process.stderr.write(`${message}\n${USAGE}`)
  process.exit(1)
}

const name = process.argv[2] ?? process.env.EXAMPLE_SERVICE
if (name === undefined || !Object.hasOwn(EXAMPLE_PORTS, name)) {
  fail(name === undefined ? 'run-service: which example service?' : `run-service: no example service named ${JSON.stringify(name)}`)
}
const service = name as ExampleServiceName
const rawPort = process.env.PORT || String(EXAMPLE_PORTS[service])
if (!/^\d+$/.test(rawPort) || Number(rawPort) > 65535) fail(`PORT: expected an integer from 0 to 65535, got ${JSON.stringify(rawPort)}`)
const host = process.env.HOST || '0.0.0.0'

const app = exampleServices({ jwtSecret: process.env.JWT_SECRET || undefined })[service]
try {
  const url = await app.listen({ host, port: Number(rawPort) })
  process.stdout.write(`${service} example service listening at ${url}\n`)
} catch (err) {
  fail(`${service} example service cannot listen on ${host}:${rawPort}: ${(err as Error).message}`)
}

let closing = false
const shutdown = (): void => {
  if (closing) return
  closing = true
  app.close().then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
