import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../../app.ts'
import { loadEnv } from '../../services/config/env.ts'
import { parseConfig } from '../../services/config/load-config.ts'
import { PLAIN_ROUTE_OFF } from '../plain-route.ts'
import type { BenchScenario, BenchTarget } from '../scenario.ts'


/**
 * Upstream resilience (issue 7). The balanced scenarios start one upstream process of their own
 * that listens on 1 or 3 ports, so 1 and 3 targets cost the same upstream processes and the
 * ratio shows only the balancer and the spread over three connection pools. The fast-fail
 * scenario measures the open-breaker path: no upstream is touched at all.
 */

const UPSTREAM_SCRIPT = fileURLToPath(new URL('../multi-port-upstream.mjs', import.meta.url))

async function startTargets (count: number): Promise<{ urls: string[], child: ChildProcess }> {
  const child = spawn(process.execPath, [UPSTREAM_SCRIPT, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  return { urls: line.toString().trim().split(' ').map(port => `http://127.0.0.1:${port}`), child }
}

async function gateway (service: Record<string, unknown>, cleanup: () => Promise<void>): Promise<BenchTarget> {
  const config = parseConfig(JSON.stringify({ services: { svc: service }, routes: [{ path: '/bench', methods: ['GET'], service: 'svc', ...PLAIN_ROUTE_OFF }] }), 'bench-resilience.json')
  const app = await buildApp({ env: loadEnv({ LOG_LEVEL: 'silent', TRACKING_ENABLED: 'false' }), config, logger: false })
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
  const { urls, child } = await startTargets(targets)
  return await gateway({ urls, retries: 1 }, async () => {
    const exited = once(child, 'exit')
    child.kill()
    await exited
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
    description: 'GET through a service with `urls` of one target (an upstream process of its own): the balancer baseline',
    setup: async () => await balanced(1)
  },
  {
    name: 'balanced-3-targets',
    description: 'GET through a service with 3 targets, round robin (three ports of one upstream process)',
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
      return { ...target, expectStatus: 503 }
    }
  }
]
