import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import type { BenchContext, BenchScenario } from './scenario.ts'
import { send, serveCpuProbe } from './cpu-probe.ts'

/**
 * `node --import tsx bench/target.ts <scenario file> <scenario name>`: runs ONE scenario's
 * setup() in this process (the gateway under load never shares a process with autocannon) and
 * serves the harness's IPC probe. The context arrives as JSON in BENCH_CONTEXT.
 */
async function main (): Promise<void> {
  const [file, name] = process.argv.slice(2)
  if (!file || !name) throw new Error('usage: bench/target.ts <scenario file> <scenario name>')
  const ctx = JSON.parse(process.env.BENCH_CONTEXT ?? '{}') as BenchContext
  const mod = await import(pathToFileURL(resolve(file)).href) as { scenarios?: BenchScenario[] }
  const scenario = mod.scenarios?.find(s => s.name === name)
  if (!scenario) throw new Error(`${file} has no scenario named ${name}`)
  serveCpuProbe(await scenario.setup(ctx))
}

main().catch((err: Error) => {
  send({ type: 'error', message: err.stack ?? err.message }, () => process.exit(1))
})
