import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { discover } from './discover.ts'
import { BENCH_DIR, Probe, load, median, seconds, integer, pin, pinSplit, describePin, startUpstream, successes } from './probe.ts'

const USAGE = `Usage: node --import tsx bench/ab.ts A B [options]
A and B name a scenario (tracking-on) or a scenario file and name (../other/bench/scenarios/tracking.ts:tracking-on).
  --a-env K=V,...    environment of A's target process only (same for --b-env)
  --pairs 20         A/B pairs, at least 1 (each pair runs both, the order alternating)
  --slice 1s         load per run
  --warmup 2s        unmeasured load per target first
  --connections 50   concurrent connections
  --pin              Linux: both targets on CPU 0, this process and the upstream on the others
Env REDIS_URL and DATABASE_URL are passed to the scenarios, as npm run bench does.
`

/**
 * A careful A/B of two targets, for changes too small for the interleaved rounds of run.ts to
 * resolve: both targets up at once, the load alternating short slices between them, the ratio
 * B/A taken within each pair (seconds apart) and its median and quartiles reported. A and B may
 * be one scenario under two environments, or the same scenario from two checkouts of the code.
 * `--pin` gives the targets a core of their own, away from the load generator and the upstream
 * (a local database still floats): closer to production, and far less noisy on two shared cores
 * (docs/benchmark.md).
 */
interface Side { label: string, file: string, name: string, env: Record<string, string> }

function fail (message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`)
  process.exit(2)
}

async function side (label: string, spec: string, envSpec: string | undefined): Promise<Side> {
  const env: Record<string, string> = {}
  for (const pair of (envSpec ?? '').split(',').filter(Boolean)) {
    const eq = pair.indexOf('=')
    if (eq < 1) fail(`--${label.toLowerCase()}-env: expected K=V pairs separated by commas, got ${JSON.stringify(pair)}`)
    env[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  const colon = spec.lastIndexOf(':')
  if (colon > 0 && spec.slice(0, colon).endsWith('.ts')) return { label, file: resolve(spec.slice(0, colon)), name: spec.slice(colon + 1), env }
  const found = (await discover()).find(s => s.name === spec)
  if (found === undefined) fail(`${label}: no scenario named ${JSON.stringify(spec)} (npm run bench -- --list)`)
  return { label, file: found.file, name: spec, env }
}

interface Run { reqPerSec: number, cpuPerReq: number }

async function run (probe: Probe, slice: number, connections: number): Promise<Run> {
  probe.cpuStart()
  const result = await load(probe.ready!.url, probe.ready!, connections, slice)
  const cpu = await probe.cpuStop()
  if (successes(result, probe.ready!) === 0) throw new Error(`${probe.label}: no ${probe.ready!.expectStatus ?? '2xx'} response in ${slice}s (${JSON.stringify(result.statusCodeStats)})`)
  return { reqPerSec: result.requests.total / result.duration, cpuPerReq: cpu / result.requests.total }
}

function quartile (values: number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

async function main (): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'a-env': { type: 'string' },
      'b-env': { type: 'string' },
      pairs: { type: 'string', default: '20' },
      slice: { type: 'string', default: '1s' },
      warmup: { type: 'string', default: '2s' },
      connections: { type: 'string', default: '50' },
      pin: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return
  }
  if (positionals.length !== 2) fail('expected two targets, A and B')
  const pairs = integer('--pairs', values.pairs!, fail)
  const slice = seconds('--slice', values.slice!, fail, 0.1)
  const warmup = seconds('--warmup', values.warmup!, fail, 0)
  const connections = integer('--connections', values.connections!, fail)
  const a = await side('A', positionals[0], values['a-env'])
  const b = await side('B', positionals[1], values['b-env'])
  const split = values.pin ? pinSplit(fail) : null
  const { upstream, ctx } = await startUpstream(split)
  const probes: Probe[] = [upstream]
  try {
    const [pa, pb] = await Promise.all([a, b].map(async (s) => {
      const probe = new Probe(s.label, join(BENCH_DIR, 'target.ts'), [s.file, s.name], { ...s.env, BENCH_CONTEXT: JSON.stringify(ctx) })
      probes.push(probe)
      return await probe.start()
    }))
    if (split !== null) for (const p of [pa, pb]) pin(p.child.pid!, split.target)
    process.stdout.write(`ab: A = ${a.name} (${relative(process.cwd(), a.file)}${fmtEnv(a.env)}), B = ${b.name} (${relative(process.cwd(), b.file)}${fmtEnv(b.env)})\n` +
      `    ${pairs} pairs of ${slice}s slices, ${connections} connections${describePin(split)}\n`)
    if (warmup > 0) for (const p of [pa, pb]) await load(p.ready!.url, p.ready!, connections, warmup)
    const ratios: number[] = []
    const runsA: Run[] = []
    const runsB: Run[] = []
    for (let i = 0; i < pairs; i++) {
      // Alternating which side goes first cancels a drift within the pair.
      const first = i % 2 === 0 ? pa : pb
      const r1 = await run(first, slice, connections)
      const r2 = await run(first === pa ? pb : pa, slice, connections)
      const [ra, rb] = first === pa ? [r1, r2] : [r2, r1]
      runsA.push(ra)
      runsB.push(rb)
      ratios.push(rb.reqPerSec / ra.reqPerSec)
      process.stdout.write(`  pair ${String(i + 1).padStart(3)}  A ${Math.round(ra.reqPerSec).toString().padStart(6)} req/s  B ${Math.round(rb.reqPerSec).toString().padStart(6)} req/s  B/A ${ratios[i].toFixed(3)}\n`)
    }
    const med = (runs: Run[], key: keyof Run) => median(runs.map(r => r[key]))
    process.stdout.write(`B/A ${median(ratios).toFixed(3)} (quartiles ${quartile(ratios, 0.25).toFixed(3)}–${quartile(ratios, 0.75).toFixed(3)})` +
      `  req/s A ${Math.round(med(runsA, 'reqPerSec'))} B ${Math.round(med(runsB, 'reqPerSec'))}` +
      `  CPU µs/req A ${med(runsA, 'cpuPerReq').toFixed(1)} B ${med(runsB, 'cpuPerReq').toFixed(1)}\n`)
  } finally {
    await Promise.all(probes.map(p => p.close()))
  }
}

function fmtEnv (env: Record<string, string>): string {
  const keys = Object.keys(env)
  return keys.length === 0 ? '' : `, ${keys.map(k => `${k}=${env[k]}`).join(' ')}`
}

main().catch((err: Error) => {
  process.stderr.write(`ab: ${err.message}\n`)
  process.exitCode = 1
})
