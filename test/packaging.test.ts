import t from 'tap'
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { once } from 'node:events'
import { parse as parseYaml } from 'yaml'
import { EnvSchema } from '../schemas/env.ts'
import { loadEnv } from '../services/config/env.ts'
import { loadConfigFile } from '../services/config/load-config.ts'
import { PROJECT_ROOT } from '../services/config/package-info.ts'
import { EXAMPLE_PORTS, exampleConfigPath } from '../examples/services/index.ts'
import { freePort, listen } from './helper.ts'

/**
 * Env vars that docker-compose.yml (or the Dockerfile) sets on the gateway but that the concerns adding them have not
 * merged into schemas/env.ts yet. The lead empties this at merge time: a name that reaches
 * EnvSchema makes the test below fail until it is removed from here.
 */
const PENDING_ENV: string[] = []

const COMPOSE_SERVICES = ['gateway', 'redis', 'postgres', 'users', 'products', 'orders', 'auth', 'jaeger']
const IMAGE_ROOT = '/app/'

// ---------------------------------------------------------------------------------------------
// A small Dockerfile parser: comments and parser directives dropped, `\` continuations joined,
// instructions grouped by stage (FROM ... AS name).
interface Instruction { keyword: string, args: string, line: number }
interface Stage { name: string, image: string, instructions: Instruction[] }

function parseDockerfile (text: string): { args: Instruction[], stages: Stage[] } {
  const instructions: Instruction[] = []
  let pending = ''
  let startLine = 0
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '')
    if (pending === '' && /^\s*(#|$)/.test(line)) return
    if (pending !== '' && /^\s*#/.test(line)) return // comment lines inside a continuation
    if (pending === '') startLine = i + 1
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ')
      return
    }
    const full = (pending + line).trim()
    pending = ''
    const match = /^(\w+)\s+([\s\S]*)$/.exec(full)
    if (!match) throw new Error(`Dockerfile line ${startLine}: cannot parse ${JSON.stringify(full)}`)
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2].replace(/\s+/g, ' ').trim(), line: startLine })
  })
  const args: Instruction[] = []
  const stages: Stage[] = []
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (!m) throw new Error(`Dockerfile line ${ins.line}: bad FROM ${ins.args}`)
      stages.push({ image: m[1], name: m[2] ?? String(stages.length), instructions: [] })
    } else if (stages.length === 0) {
      args.push(ins)
    } else {
      stages[stages.length - 1].instructions.push(ins)
    }
  }
  return { args, stages }
}

const find = (stage: Stage, keyword: string) => stage.instructions.filter(i => i.keyword === keyword)
const execForm = (ins: Instruction) => JSON.parse(ins.args.replace(/^(--\S+\s+)*(CMD\s+)?/i, '')) as string[]

// Compose's `${VAR:-default}` / `${VAR-default}` / `${VAR}` with nothing set: what a fresh clone gets.
function interpolate (value: string): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (m, _name: string, def: string | undefined) => m === '$$' ? '$' : (def ?? ''))
}

function envOf (service: ComposeService): Record<string, string> {
  const env = service.environment ?? {}
  const pairs = Array.isArray(env)
    ? env.map(e => { const i = e.indexOf('='); return [e.slice(0, i), e.slice(i + 1)] })
    : Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)])
  return Object.fromEntries(pairs.map(([k, v]) => [k, interpolate(v)]))
}

interface ComposeService {
  image?: string
  build?: unknown
  command?: string[] | string
  environment?: Record<string, string | number | boolean | null> | string[]
  depends_on?: Record<string, { condition: string }> | string[]
  ports?: string[]
}

const dockerfile = parseDockerfile(readFileSync(join(PROJECT_ROOT, 'Dockerfile'), 'utf8'))
const compose = parseYaml(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> }
const dockerignore = readFileSync(join(PROJECT_ROOT, '.dockerignore'), 'utf8').split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'))
const runtime = dockerfile.stages[dockerfile.stages.length - 1]
/** A path inside the image (/app/...) as the file in this repository. */
const inRepo = (imagePath: string) => join(PROJECT_ROOT, imagePath.startsWith(IMAGE_ROOT) ? imagePath.slice(IMAGE_ROOT.length) : imagePath)

t.test('Dockerfile: multi-stage build, production dependencies only at run time', async (t) => {
  t.ok(dockerfile.stages.length >= 2, 'more than one stage')
  for (const stage of dockerfile.stages) {
    t.match(interpolate(stage.image.replace(/\$\{?(\w+)\}?/, (_m, n: string) => dockerfile.args.find(a => a.args.startsWith(n + '='))?.args.split('=')[1] ?? '')),
      /^node:(2[02468])[.\w-]*$/, `stage ${stage.name} is an even-numbered (LTS) Node image`)
  }
  const build = dockerfile.stages.find(s => find(s, 'RUN').some(r => /npm run build\b/.test(r.args)))
  t.ok(build, 'a stage runs npm run build')
  t.ok(build && find(build, 'RUN').some(r => /npm ci(?!.*--omit=dev)/.test(r.args)), 'the build stage installs dev dependencies (tsc)')
  t.not(build, runtime, 'the build stage is not the one that ships')

  // node_modules in the final image come from a stage that ran `npm ci --omit=dev`.
  const copies = find(runtime, 'COPY')
  const modules = copies.find(c => /node_modules/.test(c.args))
  const from = modules && /--from=(\S+)/.exec(modules.args)?.[1]
  const depsStage = dockerfile.stages.find(s => s.name === from)
  t.ok(depsStage, 'the runtime copies node_modules from another stage')
  t.ok(depsStage && find(depsStage, 'RUN').some(r => /npm ci\b.*--omit=dev/.test(r.args)), 'that stage installs production dependencies only')
  t.notOk(find(runtime, 'RUN').some(r => /npm (ci|install)/.test(r.args)), 'the runtime stage installs nothing itself')
  for (const copy of copies) {
    const stageRef = /--from=(\S+)/.exec(copy.args)?.[1]
    if (stageRef) t.ok(dockerfile.stages.slice(0, -1).some(s => s.name === stageRef), `COPY --from=${stageRef} names an earlier stage`)
  }
})

t.test('Dockerfile: non-root, HEALTHCHECK on /health, port, signal and command', async (t) => {
  const users = find(runtime, 'USER')
  t.ok(users.length > 0, 'the runtime stage sets USER')
  const user = users[users.length - 1]?.args ?? 'root'
  t.notOk(/^(root|0)(:|$)/.test(user), `runs as ${user}, not root`)
  const cmd = find(runtime, 'CMD').at(-1)!
  t.ok(users.every(u => u.line < cmd.line), 'USER comes before CMD')
  t.same(execForm(cmd), ['node', 'dist/server.js'], 'CMD ["node", "dist/server.js"] (exec form: node gets the signals)')
  t.ok(existsSync(join(PROJECT_ROOT, 'server.ts')), 'dist/server.js is compiled from server.ts')
  t.same(find(runtime, 'EXPOSE').map(e => e.args), ['8080'], 'EXPOSE 8080')
  t.same(find(runtime, 'STOPSIGNAL').map(e => e.args), ['SIGTERM'], 'STOPSIGNAL SIGTERM')
  const env = Object.fromEntries(find(runtime, 'ENV').flatMap(e => [...e.args.matchAll(/(\w+)=(\S+)/g)].map(m => [m[1], m[2]])))
  t.equal(env.PORT ?? '8080', '8080', 'PORT in the image matches EXPOSE')
  for (const name of Object.keys(env)) t.ok(name in EnvSchema.properties || PENDING_ENV.includes(name), `ENV ${name} is a Portico variable`)

  const health = find(runtime, 'HEALTHCHECK')
  t.equal(health.length, 1, 'one HEALTHCHECK')
  t.match(health[0].args, /\/health\b/, 'it hits /health')
  t.notMatch(health[0].args, /\bcurl\b|\bwget\b/, 'no curl or wget (slim images have neither)')
})

t.test('the HEALTHCHECK command itself: exit 0 against a live gateway, 1 when nothing answers', async (t) => {
  const command = execForm(find(runtime, 'HEALTHCHECK')[0])
  t.equal(command[0], 'node')
  const run = (port: number) => new Promise<number>((resolve) => {
    execFile(process.execPath, command.slice(1), { env: { ...process.env, PORT: String(port) }, timeout: 10_000 }, (err) => {
      resolve(err ? (typeof err.code === 'number' ? err.code : 1) : 0)
    })
  })
  const { url } = await listen(t, { config: { services: {}, routes: [] } })
  t.equal(await run(Number(new URL(url).port)), 0, 'healthy gateway → 0')
  t.equal(await run(await freePort()), 1, 'nothing listening → 1')
})

t.test('.dockerignore keeps the build context small but complete', async (t) => {
  for (const ignored of ['node_modules', 'dist', '.git']) t.ok(dockerignore.includes(ignored), `${ignored} is ignored`)
  // Everything the build stage reads must stay in the context.
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'examples', 'deploy', 'server.ts', 'app.ts', 'plugins', 'services', 'schemas', 'routes']) {
    t.notOk(dockerignore.some(p => p === needed || p === `${needed}/` || p === `/${needed}`), `${needed} is in the build context`)
    t.ok(existsSync(join(PROJECT_ROOT, needed)), `${needed} exists`)
  }
})

t.test('docker-compose.yml: the services exist and depend on each other', async (t) => {
  for (const name of COMPOSE_SERVICES) t.ok(compose.services[name], `service ${name}`)
  for (const name of ['prometheus', 'grafana']) t.ok(compose.services[name], `observability service ${name}`)
  t.equal(envOf(compose.services.gateway).OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', 'traces go to Jaeger')
  const gateway = compose.services.gateway
  t.ok(gateway.build, 'the gateway is built from this repository')
  const deps = Array.isArray(gateway.depends_on) ? gateway.depends_on : Object.keys(gateway.depends_on ?? {})
  t.same([...deps].sort(), COMPOSE_SERVICES.filter(n => n !== 'gateway').sort(), 'the gateway waits for every other service')
  t.ok((gateway.ports ?? []).some(p => /:8080$/.test(interpolate(p))), 'the gateway publishes port 8080')
})

t.test('docker-compose.yml: every env var on the gateway is one Portico reads', async (t) => {
  const env = envOf(compose.services.gateway)
  for (const name of Object.keys(env)) {
    t.ok(name in EnvSchema.properties || PENDING_ENV.includes(name), `${name} is in EnvSchema (schemas/env.ts)${PENDING_ENV.includes(name) ? ' or PENDING_ENV' : ''}`)
  }
  for (const name of PENDING_ENV) {
    t.notOk(name in EnvSchema.properties, `PENDING_ENV: ${name} is in EnvSchema now — remove it from PENDING_ENV in this test`)
  }
  // The values (with compose's defaults) pass the gateway's own validation.
  const known = Object.fromEntries(Object.entries(env).filter(([k]) => !PENDING_ENV.includes(k)))
  t.doesNotThrow(() => loadEnv(known), 'the gateway env passes loadEnv')
  const decoded = loadEnv(known)
  t.equal(decoded.PORT, 8080, 'listens on the port the image exposes')
  t.equal(decoded.HOST, '0.0.0.0', 'on every interface of its container')

  // Connection URLs point at the compose services, with matching credentials.
  t.equal(new URL(env.REDIS_URL).hostname, 'redis', 'REDIS_URL → the redis service')
  const db = new URL(env.DATABASE_URL)
  const pg = envOf(compose.services.postgres)
  t.equal(db.hostname, 'postgres', 'DATABASE_URL → the postgres service')
  t.equal(decodeURIComponent(db.username), pg.POSTGRES_USER, 'database user')
  t.equal(decodeURIComponent(db.password), pg.POSTGRES_PASSWORD, 'database password')
  t.equal(db.pathname.slice(1), pg.POSTGRES_DB, 'database name')
  t.equal(env.JWT_SECRET, envOf(compose.services.auth).JWT_SECRET, 'the gateway verifies what the auth service signs')
})

t.test('docker-compose.yml: the gateway config exists, is valid, and points at the compose services', async (t) => {
  const env = envOf(compose.services.gateway)
  t.ok(env.GATEWAY_CONFIG, 'GATEWAY_CONFIG is set')
  t.ok(env.GATEWAY_CONFIG.startsWith(IMAGE_ROOT), 'a path inside the image')
  const file = inRepo(env.GATEWAY_CONFIG)
  t.ok(existsSync(file), `${file} exists in the repository`)
  const dockerCopies = find(runtime, 'COPY').map(c => c.args).join(' ') + ' ' + dockerfile.stages.flatMap(s => find(s, 'RUN')).map(r => r.args).join(' ')
  t.match(dockerCopies, /\bdeploy\b/, 'the Dockerfile puts deploy/ into the image')
  const config = loadConfigFile(file)
  for (const service of Object.values(config.services)) {
    const target = new URL(service.url)
    const container = compose.services[target.hostname]
    t.ok(container, `service ${service.name} → compose service ${target.hostname}`)
    if (container) t.equal(envOf(container).PORT, target.port, `${target.hostname} listens on ${target.port}`)
  }
  // Same routes and settings as the bundled example; only where the services live differs.
  const example = loadConfigFile(exampleConfigPath)
  const withoutUrls = (c: typeof config) => ({
    routes: c.routes,
    services: Object.fromEntries(Object.entries(c.services).map(([k, v]) => [k, { ...v, url: undefined, urls: undefined }]))
  })
  t.same(withoutUrls(config), withoutUrls(example), 'deploy/gateway.compose.yaml matches examples/gateway.yaml but for service URLs')
})

t.test('docker-compose.yml: example services run from the image, one per container', async (t) => {
  for (const name of Object.keys(EXAMPLE_PORTS)) {
    const service = compose.services[name]
    t.same(service.image, compose.services.gateway.image, `${name} uses the gateway's image`)
    const command = Array.isArray(service.command) ? service.command : String(service.command).split(' ')
    t.same(command, ['node', 'dist/examples/run-service.js', name], `${name} runs examples/run-service.ts ${name}`)
  }
  t.ok(existsSync(join(PROJECT_ROOT, 'examples', 'run-service.ts')), 'examples/run-service.ts exists')
  const build = JSON.parse(readFileSync(join(PROJECT_ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
  t.ok(build.include.includes('examples'), 'examples/ is compiled into dist/')
})

t.test('examples/run-service.ts starts one example service and stops on SIGTERM', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'examples', 'run-service.ts'), 'products'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout.setEncoding('utf8')
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      const m = /listening at (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}`)))
  })
  const res = await fetch(`${url}/products`)
  t.equal(res.status, 200)
  t.match(await res.text(), /Keyboard/, 'the products service answers')
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0, 'exits 0 on SIGTERM')
})

t.test('examples/run-service.ts rejects an unknown service name', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'examples', 'run-service.ts'), 'billing'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => { err += c })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(err, /no example service named "billing"/)
  t.match(err, /users\|products\|orders\|auth/)
})
