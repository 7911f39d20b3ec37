import http from 'node:http'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PLAIN_ROUTE_OFF } from '../plain-route.ts'
import { processCpuMicros } from '../proc-cpu.ts'
import type { AddressInfo } from 'node:net'
import type { BenchContext, BenchScenario, BenchTarget } from '../scenario.ts'

/**
 * Tracing on versus off, on the plain proxied route. Tracing must be loaded before Fastify, so
 * both scenarios spawn the gateway as `npm start` does (`node --import tsx --import ./tracing.ts
 * server.ts`); `tracing-off` is the same process without OTEL_EXPORTER_OTLP_ENDPOINT and is
 * tracing-on's baseline, so the ratio isolates the SDK's cost from the cost of a separate process.
 * CPU per request is the spawned gateway's (the target process only waits on it), and
 * `npm run bench -- --cpu-prof DIR` profiles the gateway too, into DIR/<scenario>/gateway/.
 * BENCH_OTEL_<NAME> in the bench's environment is passed to tracing-on's gateway as OTEL_<NAME>,
 * for experiments (sampler, protocol, batching); the figures to quote are without any.
 *
 * The OTLP receiver is a tiny HTTP server in the scenario's own process that drains each export
 * and answers 200, as a collector would; every request is sampled (the SDK default).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const READY_TIMEOUT_MS = 30_000

async function startReceiver (): Promise<{ url: string, close (): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}

async function freePort (): Promise<number> {
  const server = http.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function waitReady (url: string, exited: Promise<unknown>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let gone = false
  exited.then(() => { gone = true }, () => { gone = true })
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(url + '/health')
      await res.arrayBuffer()
      if (res.status === 200) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(gone ? 'gateway exited before it was ready' : `gateway not ready after ${READY_TIMEOUT_MS} ms`)
}

async function spawnGateway (ctx: BenchContext, tracing: boolean): Promise<BenchTarget> {
  const dir = mkdtempSync(path.join(tmpdir(), 'portico-bench-'))
  const config = path.join(dir, 'gateway.json')
  writeFileSync(config, JSON.stringify({
    services: { bench: { url: ctx.upstreamUrl } },
    routes: [{ path: '/bench', methods: ['GET'], service: 'bench', upstreamPath: '/bench', ...PLAIN_ROUTE_OFF }]
  }))
  const receiver = tracing ? await startReceiver() : undefined
  const port = await freePort()
  const child = spawn(process.execPath, [...profileArgs(), '--import', 'tsx', '--import', './tracing.ts', 'server.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_CONFIG: config,
      LOG_LEVEL: 'warn',
      TRACKING_ENABLED: 'false',
      DATA_DIR: dir,
      ...(receiver ? { ...experimentEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'portico-bench' } : {})
    },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const exited = once(child, 'exit')
  const url = `http://127.0.0.1:${port}`
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
    await receiver?.close()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitReady(url, exited)
  } catch (err) {
    await close()
    throw err
  }
  const pid = child.pid!
  return { url, path: '/bench', close, cpuMicros: () => processCpuMicros(pid) }
}

// The harness gives the target process --cpu-prof-dir; the gateway's profile goes beside it.
function profileArgs (): string[] {
  const i = process.execArgv.indexOf('--cpu-prof-dir')
  return i === -1 ? [] : ['--cpu-prof', '--cpu-prof-dir', path.join(process.execArgv[i + 1], 'gateway')]
}

function experimentEnv (): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('BENCH_OTEL_') && value !== undefined) out[name.slice('BENCH_'.length)] = value
  }
  return out
}

export const scenarios: BenchScenario[] = [
  {
    name: 'tracing-off',
    description: 'plain route, gateway spawned as npm start does, OTEL_EXPORTER_OTLP_ENDPOINT unset',
    baseline: 'portico-plain',
    setup: (ctx) => spawnGateway(ctx, false)
  },
  {
    name: 'tracing-on',
    description: 'plain route with every request traced (server and upstream spans) and exported over OTLP/HTTP to a local receiver',
    baseline: 'tracing-off',
    target: 0.85,
    setup: (ctx) => spawnGateway(ctx, true)
  }
]
