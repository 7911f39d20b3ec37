import { writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { discover, type Discovered } from './discover.ts'
import { BENCH_DIR, Probe, load, median, seconds, integer, pin, pinSplit, describePin, startUpstream, successes } from './probe.ts'

/**
 * `npm run bench`: starts a local upstream, every scenario's target in a process of its own, and
 * drives them with autocannon (in this process) in interleaved rounds — each round runs every
 * scenario once, the order rotated — so drift on a shared machine spreads over all of them.
 * Prints medians, the spread between rounds, CPU per request of the target process, and each
 * scenario's ratio to its baseline (the median of per-round ratios: both sides measured minutes
 * apart at most). Exits 1 if a scenario fails; a ratio below its target is reported, not fatal.
 */
const RESULTS_FILE = process.env.BENCH_RESULTS || join(BENCH_DIR, 'results.json')

const USAGE = `Usage: npm run bench -- [options]
  --only a,b         run only these scenarios (their baselines are added)
  --duration 5s      length of each measured run        (env BENCH_DURATION, default 5s)
  --connections 50   concurrent connections             (env BENCH_CONNECTIONS, default 50)
  --rounds 3         interleaved rounds, at least 1     (env BENCH_ROUNDS, default 3)
  --warmup 1s        unmeasured run per target first    (env BENCH_WARMUP, default 1s)
  --pin              Linux: every target on CPU 0, the load generator and upstream on the others
  --cpu-prof DIR     V8 CPU profiles of each target into DIR/<scenario>/ (bench/profile-summary.ts reads them)
  --list             list the scenarios and exit
Env REDIS_URL and DATABASE_URL are passed to the scenarios that use them;
BENCH_RESULTS names the results file (default bench/results.json).
`

interface Settings { duration: number, connections: number, rounds: number, warmup: number, only?: string[], list: boolean, cpuProf?: string, pin: boolean }

interface RunFigures {
  round: number
  reqPerSec: number
  p50: number
  p99: number
  requests: number
  non2xx: number
  errors: number
  /** CPU µs per completed request of the target process, and of the shared upstream. */
  targetCpuPerReq: number | null
  upstreamCpuPerReq: number | null
}

interface ScenarioState {
  scenario: Discovered
  child?: Probe
  runs: RunFigures[]
  failure?: string
  report?: Record<string, number> | null
}

function settings (): Settings {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      list: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const duration = seconds('duration / BENCH_DURATION', values.duration ?? process.env.BENCH_DURATION ?? '5s', usage)
  const warmup = seconds('warmup / BENCH_WARMUP', values.warmup ?? process.env.BENCH_WARMUP ?? '1s', usage, 0)
  const connections = integer('connections / BENCH_CONNECTIONS', values.connections ?? process.env.BENCH_CONNECTIONS ?? '50', usage)
  const rounds = integer('rounds / BENCH_ROUNDS', values.rounds ?? process.env.BENCH_ROUNDS ?? '3', usage)
  const only = values.only?.split(',').map(s => s.trim()).filter(Boolean)
  return { duration, warmup, connections, rounds, only, list: values.list ?? false, cpuProf: values['cpu-prof'], pin: values.pin ?? false }
}

function usage (message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`)
  process.exit(2)
}

/** --only, plus the baselines the chosen scenarios are divided by, in discovery order. */
function select (all: Discovered[], only?: string[]): Discovered[] {
  if (!only) return all
  const unknown = only.filter(n => !all.some(s => s.name === n))
  if (unknown.length > 0) usage(`--only: no scenario named ${unknown.join(', ')} (have: ${all.map(s => s.name).join(', ')})`)
  const wanted = new Set<string>()
  const add = (name: string): void => {
    if (wanted.has(name)) return
    wanted.add(name)
    const baseline = all.find(s => s.name === name)?.baseline
    if (baseline) add(baseline)
  }
  only.forEach(add)
  return all.filter(s => wanted.has(s.name))
}

async function measure (state: ScenarioState, upstream: Probe, s: Settings, round: number): Promise<RunFigures> {
  const child = state.child!
  const ready = child.ready!
  child.cpuStart()
  upstream.cpuStart()
  const result = await load(ready.url, ready, s.connections, s.duration)
  const [targetCpu, upstreamCpu] = await Promise.all([child.cpuStop(), upstream.cpuStop()])
  const requests = result.requests.total
  const errors = result.errors + result.timeouts
  if (requests === 0 || successes(result, ready) === 0) {
    throw new Error(`no successful response in ${s.duration}s (${errors} errors, ${result.non2xx} non-2xx: ${JSON.stringify(result.statusCodeStats)})`)
  }
  return {
    round,
    reqPerSec: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    non2xx: result.non2xx,
    errors,
    // A scenario aimed straight at the upstream has no process in between to charge.
    targetCpuPerReq: ready.url === upstream.ready!.url ? null : targetCpu / requests,
    upstreamCpuPerReq: upstreamCpu / requests
  }
}

interface Summary {
  name: string
  description: string
  file: string
  baseline?: string
  target?: number
  failure?: string
  rounds: RunFigures[]
  reqPerSec?: number
  /** (max - min) / median of req/s over the rounds: how noisy this scenario's runs were. */
  spread?: number
  p50?: number
  p99?: number
  non2xx?: number
  errors?: number
  targetCpuPerReq?: number
  upstreamCpuPerReq?: number
  ratio?: number
  report?: Record<string, number> | null
}

function summarise (states: ScenarioState[]): Summary[] {
  const byName = new Map(states.map(st => [st.scenario.name, st]))
  return states.map((st) => {
    const { scenario: sc, runs } = st
    const out: Summary = { name: sc.name, description: sc.description, file: relative(process.cwd(), sc.file), baseline: sc.baseline, target: sc.target, failure: st.failure, rounds: runs, report: st.report }
    if (runs.length === 0) return out
    const rps = runs.map(r => r.reqPerSec)
    out.reqPerSec = median(rps)
    out.spread = (Math.max(...rps) - Math.min(...rps)) / out.reqPerSec
    out.p50 = median(runs.map(r => r.p50))
    out.p99 = median(runs.map(r => r.p99))
    out.non2xx = runs.reduce((n, r) => n + r.non2xx, 0)
    out.errors = runs.reduce((n, r) => n + r.errors, 0)
    if (runs.every(r => r.targetCpuPerReq !== null)) out.targetCpuPerReq = median(runs.map(r => r.targetCpuPerReq!))
    out.upstreamCpuPerReq = median(runs.map(r => r.upstreamCpuPerReq ?? 0))
    const base = sc.baseline ? byName.get(sc.baseline) : undefined
    if (base && base.runs.length > 0) {
      // Per-round ratios: each pair was measured in the same round, close in time.
      const ratios = runs.flatMap(r => {
        const b = base.runs.find(x => x.round === r.round)
        return b ? [r.reqPerSec / b.reqPerSec] : []
      })
      if (ratios.length > 0) out.ratio = median(ratios)
    }
    return out
  })
}

function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  return rows.map(r => r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')).join('\n')
}

function print (summaries: Summary[], s: Settings, noteLoad: number[]): void {
  const fmt = (n: number | undefined, digits = 0) => n === undefined ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const rows = [['scenario', 'req/s', '±spread', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'CPU µs/req', 'upstream µs/req', 'ratio', 'target', 'baseline']]
  for (const r of summaries) {
    if (r.failure) {
      rows.push([r.name, 'FAILED', '', '', '', '', '', '', '', '', '', ''])
      continue
    }
    const miss = r.ratio !== undefined && r.target !== undefined && r.ratio < r.target ? ' (below)' : ''
    rows.push([
      r.name, fmt(r.reqPerSec), r.spread === undefined ? '—' : `${fmt(r.spread * 100)}%`, fmt(r.p50, 1), fmt(r.p99, 1),
      fmt(r.non2xx), fmt(r.errors), fmt(r.targetCpuPerReq, 1), fmt(r.upstreamCpuPerReq, 1),
      r.ratio === undefined ? '—' : fmt(r.ratio, 2) + miss, r.target === undefined ? '—' : fmt(r.target, 2), r.baseline ?? '—'
    ])
  }
  process.stdout.write(`\n${table(rows)}\n`)
  process.stdout.write(`\nmedians of ${s.rounds} interleaved round(s) of ${s.duration}s, ${s.connections} connections; ` +
    `±spread = (max - min) / median req/s over the rounds; ratio = median of per-round req/s ÷ baseline's; ` +
    `load average at start ${noteLoad.map(n => n.toFixed(2)).join(' ')} on ${cpus().length} CPUs\n`)
  for (const r of summaries) {
    if (r.report) process.stdout.write(`report ${r.name}: ${Object.entries(r.report).map(([k, v]) => `${k}=${v}`).join(' ')}\n`)
  }
  for (const r of summaries) {
    if (r.failure) process.stdout.write(`FAILED ${r.name} (${relative(process.cwd(), r.file)}): ${r.failure}\n`)
  }
}

async function main (): Promise<number> {
  const s = settings()
  const all = await discover()
  if (s.list) {
    process.stdout.write(table([['scenario', 'baseline', 'target', 'file', 'description'],
      ...all.map(x => [x.name, x.baseline ?? '—', x.target?.toFixed(2) ?? '—', relative(process.cwd(), x.file), x.description])]) + '\n')
    return 0
  }
  const chosen = select(all, s.only)
  const startLoad = loadavg()
  const split = s.pin ? pinSplit(usage) : null
  process.stdout.write(`bench: ${chosen.length} scenario(s), ${s.rounds} round(s) × ${s.duration}s, ${s.connections} connections, warm-up ${s.warmup}s${describePin(split)}\n`)

  const { upstream, ctx } = await startUpstream(split)
  const states: ScenarioState[] = chosen.map(scenario => ({ scenario, runs: [] }))
  const stop = async () => {
    await Promise.all(states.map(st => st.child?.close()))
    await upstream.close()
  }
  // Ctrl-C: close the children (they also exit when the IPC channel drops).
  process.once('SIGINT', () => { stop().finally(() => process.exit(130)) })

  try {
    for (const st of states) {
      try {
        st.child = await new Probe(st.scenario.name, join(BENCH_DIR, 'target.ts'), [st.scenario.file, st.scenario.name], { BENCH_CONTEXT: JSON.stringify(ctx) }, s.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(s.cpuProf, st.scenario.name)] : []).start()
        if (split !== null) pin(st.child.child.pid!, split.target)
        process.stdout.write(`  started ${st.scenario.name} at ${st.child.ready!.url}\n`)
        if (s.warmup > 0) await load(st.child.ready!.url, st.child.ready!, s.connections, s.warmup)
      } catch (err) {
        st.failure = (err as Error).message
        process.stdout.write(`  ${st.scenario.name}: ${st.failure}\n`)
        await st.child?.close()
      }
    }
    for (let round = 0; round < s.rounds; round++) {
      const live = states.filter(st => !st.failure)
      const order = live.map((_, i) => live[(i + round) % live.length])
      for (const st of order) {
        try {
          const fig = await measure(st, upstream, s, round)
          st.runs.push(fig)
          process.stdout.write(`  round ${round + 1}/${s.rounds} ${st.scenario.name.padEnd(28)} ${Math.round(fig.reqPerSec).toString().padStart(7)} req/s  p99 ${fig.p99.toFixed(1)} ms\n`)
        } catch (err) {
          st.failure = (err as Error).message
          process.stdout.write(`  round ${round + 1}/${s.rounds} ${st.scenario.name}: FAILED ${st.failure}\n`)
        }
      }
    }
    for (const st of states) {
      if (st.failure || !st.child) continue
      const answer = await st.child.request({ type: 'report' }, 'report').catch((err: Error) => ({ type: 'report' as const, figures: null, error: err.message }))
      st.report = answer.figures
      if (answer.error) st.failure = `report() failed: ${answer.error}`
    }
  } finally {
    await stop()
  }

  const summaries = summarise(states)
  print(summaries, s, startLoad)
  writeFileSync(RESULTS_FILE, JSON.stringify({
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: startLoad },
    settings: { duration: s.duration, connections: s.connections, rounds: s.rounds, warmup: s.warmup, only: s.only ?? null, pinned: s.pin },
    scenarios: summaries
  }, null, 2) + '\n')
  process.stdout.write(`results written to ${relative(process.cwd(), RESULTS_FILE)}\n`)
  return summaries.some(r => r.failure) ? 1 : 0
}

main().then((code) => { process.exitCode = code }, (err: Error) => {
  process.stderr.write(`bench: ${err.message}\n`)
  process.exitCode = 1
})
