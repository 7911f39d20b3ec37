import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../services/config/package-info.ts'
import { pinUnavailable } from '../bench/probe.ts'

async function ab (args: string[]): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench', 'ab.ts'), ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  const [code] = await once(child, 'exit')
  return { code, out }
}

// --pin where it can work (Linux, two CPUs, taskset): one run covers it too.
const canPin = pinUnavailable() === null

t.test('bench/ab.ts measures two targets in alternating pairs and prints the median ratio', async (t) => {
  const { code, out } = await ab(['portico-plain', 'bare-proxy', '--pairs', '2', '--slice', '300ms', '--warmup', '0', '--connections', '4', '--b-env', 'PORTICO_AB_MARK=1', ...(canPin ? ['--pin'] : [])])
  t.equal(code, 0, `exit 0\n${out}`)
  t.match(out, /A = portico-plain \(bench\/scenarios\/core\.ts\), B = bare-proxy \(bench\/scenarios\/core\.ts, PORTICO_AB_MARK=1\)/)
  t.equal(out.match(/^ {2}pair +\d+ +A +\d+ req\/s +B +\d+ req\/s +B\/A \d\.\d{3}$/gm)?.length, 2, 'one line per pair')
  t.match(out, /^B\/A \d+\.\d{3} \(quartiles \d+\.\d{3}–\d+\.\d{3}\) +req\/s A \d+ B \d+ +CPU µs\/req A [\d.]+ B [\d.]+$/m, 'the summary')
  if (canPin) t.match(out, /targets pinned to CPU 0, load and upstream to CPUs 1(-\d+)?$/m)
})

t.test('bench/ab.ts: unknown scenarios and bad options are usage errors', async (t) => {
  const [unknown, env, pairs] = await Promise.all([
    ab(['portico-plain', 'nope']),
    ab(['portico-plain', 'portico-plain', '--a-env', 'novalue']),
    ab(['portico-plain', 'portico-plain', '--pairs', '0'])
  ])
  t.equal(unknown.code, 2)
  t.match(unknown.out, /B: no scenario named "nope"/)
  t.equal(env.code, 2)
  t.match(env.out, /--a-env: expected K=V pairs/)
  t.equal(pairs.code, 2)
  t.match(pairs.out, /--pairs: expected a positive integer/)
})
