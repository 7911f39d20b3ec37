import { readFileSync } from 'node:fs'

/**
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [top]`: where a target's CPU went,
 * from a profile written by `npm run bench -- --cpu-prof DIR`. Prints self time by package (a
 * node_modules package, `portico` for our files, `node:` internals, or a V8 bucket such as
 * (garbage collector)), then the top functions by self time, each as a share of all samples.
 */
interface Node {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  hitCount?: number
}
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[] }

const [file, topArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: bench/profile-summary.ts FILE.cpuprofile [top]\n')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map(n => [n.id, n]))

// Self time per node from the sample stream (hitCount is absent in some profiles).
const selfMicros = new Map<number, number>()
profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))

function packageOf (url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  const nm = url.lastIndexOf('/node_modules/')
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  return 'portico'
}

const packages = new Map<string, number>()
const functions = new Map<string, number>()
let total = 0
let idle = 0
for (const [id, micros] of selfMicros) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame
  if (functionName === '(idle)' || functionName === '(program)') { idle += micros; continue }
  total += micros
  const pkg = packageOf(url, functionName)
  packages.set(pkg, (packages.get(pkg) ?? 0) + micros)
  const where = url === '' ? '' : ` ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(?=[a-z]+\/)/, '')}:${lineNumber + 1}`
  const key = `${functionName || '(anonymous)'}${where}`
  functions.set(key, (functions.get(key) ?? 0) + micros)
}

const top = Number(topArg ?? 30)
const pct = (n: number): string => `${(100 * n / total).toFixed(1).padStart(5)}%`
process.stdout.write(`busy ${(total / 1e6).toFixed(2)} s, idle/program ${(idle / 1e6).toFixed(2)} s\n\nby package:\n`)
for (const [name, micros] of [...packages].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`  ${pct(micros)}  ${name}\n`)
process.stdout.write('\nby function (self):\n')
for (const [name, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${pct(micros)}  ${name}\n`)
