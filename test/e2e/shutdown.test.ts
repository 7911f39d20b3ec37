import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startUpstream, type TestContext } from '../helper.ts'

const root = join(import.meta.dirname, '..', '..')

/** Spawns the gateway and resolves with its URL once it logs that it listens. */
function startGateway (command: string, args: string[], configFile: string): Promise<{ child: ChildProcess, url: string, output: () => string, exited: Promise<number | null> }> {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, GATEWAY_CONFIG: configFile, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT: '5s' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve({ child, url: match[1], output: () => output, exited })
    }
    child.stdout!.on('data', onData)
    child.stderr!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`gateway exited ${code} before listening:\n${output}`)))
  })
}

async function slowUpstreamConfig (t: TestContext) {
  let arrived!: () => void
  const inFlight = new Promise<void>((resolve) => { arrived = resolve })
  const upstream = await startUpstream(t, (_req, res) => {
    arrived()
    setTimeout(() => res.end('{"slow":"done"}'), 700).unref()
  })
  const dir = mkdtempSync(join(tmpdir(), 'portico-shutdown-'))
  const file = join(dir, 'gateway.yaml')
  writeFileSync(file, `services:\n  slow: { url: "${upstream.url}" }\nroutes:\n  - { path: /slow, service: slow }\n`)
  return { file, inFlight }
}

for (const [name, command, args] of [
  ['node server.ts', process.execPath, ['--import', 'tsx', 'server.ts']],
  ['npm start', 'npm', ['start', '--silent']]
] as const) {
  t.test(`SIGTERM under ${name}: the in-flight request completes, then the process exits 0`, async (t) => {
    const { file, inFlight } = await slowUpstreamConfig(t)
    const gateway = await startGateway(command, [...args], file)
    t.teardown(() => { gateway.child.kill('SIGKILL') })
    const response = fetch(gateway.url + '/slow').then(async (r) => ({ status: r.status, body: await r.text() }))
    await inFlight
    gateway.child.kill('SIGTERM')
    const res = await response
    t.equal(res.status, 200)
    t.equal(res.body, '{"slow":"done"}')
    t.equal(await gateway.exited, 0, 'exit code 0')
    t.match(gateway.output(), /shutting down/)
    t.match(gateway.output(), /shut down cleanly/)
  })
}
