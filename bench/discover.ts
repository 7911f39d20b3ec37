import { readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BenchScenario } from './scenario.ts'

export const SCENARIO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'scenarios')

export interface Discovered extends BenchScenario {
  /** The scenario's file, absolute (bench/target.ts imports it). */
  file: string
}

/** Every bench/scenarios/*.ts file's `scenarios`, names unique. */
export async function discover (dir = SCENARIO_DIR): Promise<Discovered[]> {
  const files = readdirSync(dir).filter(f => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort()
  const found: Discovered[] = []
  for (const name of files) {
    const file = join(dir, name)
    const mod = await import(pathToFileURL(file).href) as { scenarios?: BenchScenario[] }
    if (!Array.isArray(mod.scenarios)) throw new Error(`${relative(process.cwd(), file)} does not export \`scenarios: BenchScenario[]\``)
    for (const s of mod.scenarios) {
      const clash = found.find(f => f.name === s.name)
      if (clash) throw new Error(`scenario ${s.name} is defined in both ${relative(process.cwd(), clash.file)} and ${relative(process.cwd(), file)}`)
      found.push({ ...s, file })
    }
  }
  for (const s of found) {
    if (s.baseline && !found.some(f => f.name === s.baseline)) throw new Error(`scenario ${s.name}: baseline ${s.baseline} does not exist`)
  }
  return found
}

