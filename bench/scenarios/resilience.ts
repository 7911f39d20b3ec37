import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import type { BenchScenario, BenchTarget } from '../scenario.ts'

/**
 * Upstream resilience (issue 7). The balanced scenarios start their own upstream processes (the
 * same small node:http server, one per target) so that 1 and 3 targets are compared like for
 * like: the same total upstream work, spread over 1 or 3 processes and connection pools. The
 * fast-fail scenario measures the open-breaker path: no upstream is touched at all.
 */

const TARGET_SCRIPT = fileURLToPath(new URL('../../test/fixtures/upstream-process.mjs', import.meta.url))

async function startTarget (name: string): Promise<{ url: string, child: ChildProcess }> {
  const child = spawn(process.execPath, [TARGET_SCRIPT, name, '0'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { url: `http://127.0.0.1:${Number(line.toString().trim())}`, child }
}

async function gateway (service: Record<string, unknown>, cleanup: () => Promise<void>): Promise<BenchTarget> {
  const config = parseConfig(JSON.stringify({ services: { svc: service }, routes: [{ path: '/bench', methods: ['GET'], service: 'svc' }] }), 'bench-resilience.json')
  const app = await buildApp({ env: loadEnv({ LOG_LEVEL: 'silent' }), config, logger: false })
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return {
    url,
    path: '/bench',
    async close () {
      await app.close()
      await cleanup()
    }
  }
}

async function balanced (targets: number): Promise<BenchTarget> {
  const started = await Promise.all(Array.from({ length: targets }, (_, i) => startTarget(`t${i}`)))
  return await gateway({ urls: started.map(s => s.url), retries: 1 }, async () => {
    await Promise.all(started.map(async s => {
      const exited = once(s.child, 'exit')
      s.child.kill()
      await exited
    }))
  })
}

async function unusedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

export const scenarios: BenchScenario[] = [
  {
    name: 'balanced-1-target',
    description: 'GET through a service with `urls` of one target (its own upstream process): the balancer baseline',
    setup: async () => await balanced(1)
  },
  {
    name: 'balanced-3-targets',
    description: 'GET through a service with 3 targets, round robin (each its own upstream process)',
    baseline: 'balanced-1-target',
    target: 0.95,
    setup: async () => await balanced(3)
  },
  {
    name: 'breaker-open-fastfail',
    description: "Requests to a service whose only target's circuit is open: immediate 503 with Retry-After, no upstream call",
    setup: async () => {
      const target = await gateway({ urls: [`http://127.0.0.1:${await unusedPort()}`], circuitBreaker: { failureThreshold: 1, resetTimeout: '1h' } }, async () => {})
      // One refused connection opens the circuit for the rest of the run.
      const res = await fetch(target.url + '/bench')
      await res.arrayBuffer()
      const check = await fetch(target.url + '/bench')
      await check.arrayBuffer()
      if (check.status !== 503 || check.headers.get('retry-after') === null) throw new Error(`circuit did not open (got ${check.status})`)
      return target
    }
  }
]
