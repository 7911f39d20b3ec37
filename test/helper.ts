import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.ts'
import { loadEnv, type GatewayEnv } from '../services/config/env.ts'
import { parseConfig, type GatewayConfig } from '../services/config/load-config.ts'
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { exampleConfigPath } from '../examples/services/index.ts'

/** The subset of tap's Test that helpers use, so helpers do not depend on tap's types. */
export interface TestContext {
  teardown (fn: () => unknown): void
}

/** Env as the gateway would read it: defaults, plus these strings. Memory stores unless REDIS_URL is given. */
export function testEnv (overrides: Record<string, string> = {}): GatewayEnv {
  // Tracking opens a database (PGlite under ./data by default): tests that want it turn it on
  // with a database of their own (test/tracking-db.ts), so parallel files never share one.
  return loadEnv({ LOG_LEVEL: 'silent', TRACKING_ENABLED: 'false', ...overrides })
}

/** A config validated exactly like a file: `{ services, routes }` as an object. */
export function testConfig (file: unknown): GatewayConfig {
  return parseConfig(JSON.stringify(file), 'test-config.json')
}

export interface BuildOptions {
  config: unknown
  env?: Record<string, string>
}

/** Builds and readies the app; closes it when the test ends. */
export async function build (t: TestContext, opts: BuildOptions): Promise<FastifyInstance> {
  const app = await buildApp({ env: testEnv(opts.env), config: testConfig(opts.config), logger: false })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** Builds the app and listens on 127.0.0.1 (random port); returns its base URL too. */
export async function listen (t: TestContext, opts: BuildOptions): Promise<{ app: FastifyInstance, url: string }> {
  const app = await build(t, opts)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url }
}

export interface RecordedRequest {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  body: Buffer
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void

export interface Upstream {
  url: string
  port: number
  requests: RecordedRequest[]
  server: http.Server
  /** Replace the handler mid-test (to slow down, fail, ...). */
  handle (handler: UpstreamHandler): void
  close (): Promise<void>
}

/** Echoes what it received as JSON: method, url, headers, body (utf8). */
export const echo: UpstreamHandler = (req, res, body) => {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: body.toString('utf8') }))
}

/**
 * A real HTTP origin on 127.0.0.1, port 0, that records every request it receives (with its
 * whole body: not for streaming tests). Closed when the test ends.
 */
export async function startUpstream (t: TestContext, handler: UpstreamHandler = echo, port = 0): Promise<Upstream> {
  const requests: RecordedRequest[] = []
  let current = handler
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      requests.push({ method: req.method!, url: req.url!, headers: req.headers, body })
      current(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actualPort = (server.address() as AddressInfo).port
  const close = () => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
  t.teardown(close)
  return { url: `http://127.0.0.1:${actualPort}`, port: actualPort, requests, server, handle: (h) => { current = h }, close }
}

/** A port that nothing listens on (bound, then released). */
export async function freePort (): Promise<number> {
  const server = http.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** REDIS_URL when the machine has Redis; tests that need it skip, saying so, without it. */
export const REDIS_URL = process.env.REDIS_URL
export const DATABASE_URL = process.env.DATABASE_URL

/** A key prefix of its own for one test, so parallel test files never share Redis keys. */
export function uniquePrefix (name: string): string {
  return `portico-test:${name}:${randomUUID().slice(0, 8)}`
}

/** The bundled example config (as a plain object) with each service pointed at `urls[name]`. */
export function exampleConfigAt (urls: Record<string, string>): { services: Record<string, { url?: string, urls?: string[] }>, routes: unknown[] } {
  const config = parseYaml(readFileSync(exampleConfigPath, 'utf8')) as { services: Record<string, { url?: string, urls?: string[] }>, routes: unknown[] }
  for (const [name, service] of Object.entries(config.services)) {
    if (service.urls) service.urls = [urls[name]]
    else service.url = urls[name]
  }
  return config
}
