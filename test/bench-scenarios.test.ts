import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { discover } from '../bench/discover.ts'
import { pinUnavailable } from '../bench/probe.ts'
import { scenarios as core } from '../bench/scenarios/core.ts'
import { PROJECT_ROOT } from '../services/config/package-info.ts'
import { startUpstream } from './helper.ts'

t.test('every bench/scenarios file loads; names unique, baselines exist, targets sane', async (t) => {
  const all = await discover()
  for (const name of ['direct', 'bare-proxy', 'portico-plain', 'portico-plain-logged']) {
    t.ok(all.some(s => s.name === name), `scenario ${name}`)
  }
  for (const s of all) {
    t.ok(s.description.length > 0, `${s.name} says what it measures`)
    if (s.target !== undefined) {
      t.ok(s.baseline, `${s.name}: a target needs a baseline`)
      t.ok(s.target > 0 && s.target <= 1.5, `${s.name}: target ${s.target} is a ratio`)
    }
  }
  t.equal(core.find(s => s.name === 'portico-plain')?.baseline, 'bare-proxy')
  t.equal(core.find(s => s.name === 'portico-plain')?.target, 0.90)
})

t.test('each core scenario sets up a target that proxies to the upstream, and closes', async (t) => {
  const upstream = await startUpstream(t)
  for (const scenario of core) {
    const target = await scenario.setup({ upstreamUrl: upstream.url })
    try {
      const before = upstream.requests.length
      const res = await fetch(new URL(target.path ?? '/bench', target.url))
      t.equal(res.status, 200, `${scenario.name} answers 200`)
      t.equal((await res.json()).url, target.path ?? '/bench', `${scenario.name} reached the upstream at its path`)
      t.equal(upstream.requests.length, before + 1, `${scenario.name}: one upstream request`)
    } finally {
      await target.close()
    }
  }
})

// --pin where it can work (Linux, two CPUs, taskset), so the end-to-end run covers it too.
const canPin = pinUnavailable() === null

t.test('npm run bench runs end to end: table printed, results written, exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const results = join(dir, 'results.json')
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'run.ts'), '--only', 'bare-proxy', '--duration', '1', '--rounds', '1', '--warmup', '0', '--connections', '4', ...(canPin ? ['--pin'] : [])], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, BENCH_RESULTS: results },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  const [code] = await once(child, 'exit')
  t.equal(code, 0, `exit 0\n${out}`)
  t.match(out, /^scenario\s+req\/s/m, 'the table header')
  t.match(out, /^direct\s+[\d,]+/m, 'the baseline of bare-proxy was added and measured')
  t.match(out, /^bare-proxy\s+[\d,]+/m)
  const written = JSON.parse(readFileSync(results, 'utf8'))
  t.same(written.scenarios.map((s: { name: string }) => s.name), ['direct', 'bare-proxy'])
  const bare = written.scenarios[1]
  t.ok(bare.reqPerSec > 0, 'req/s measured')
  t.ok(bare.targetCpuPerReq > 0, 'CPU per request of the proxy process measured')
  t.ok(bare.ratio > 0, 'ratio to direct computed')
  t.equal(written.scenarios[0].targetCpuPerReq, undefined, 'direct has no process in between to charge')
  t.equal(written.settings.pinned, canPin)
  if (canPin) t.match(out, /targets pinned to CPU 0, load and upstream to CPUs 1/)
})

t.test('npm run bench: an unknown --only name is a usage error naming the scenarios', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'run.ts'), '--only', 'nope'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const [code] = await once(child, 'exit')
  t.equal(code, 2)
  t.match(err, /--only: no scenario named nope \(have: .*portico-plain/)
})
