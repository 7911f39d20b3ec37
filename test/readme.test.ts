import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { EnvSchema } from '../schemas/env.ts'
import { RouteSchema, ServiceSchema } from '../schemas/config.ts'
import { parseConfig } from '../services/config/load-config.ts'
import { PROJECT_ROOT } from '../services/config/package-info.ts'

/** The README is part of the product: its env table and config example must stay true. */
const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')

t.test('the env table names every variable Portico reads', async (t) => {
  const table = readme.slice(readme.indexOf('<!-- env-table'), readme.indexOf('Durations accept'))
  for (const name of Object.keys(EnvSchema.properties)) t.match(table, `\`${name}\``, name)
})

t.test('the config example is a valid config file and uses every key', async (t) => {
  const section = readme.slice(readme.indexOf('## The config file'))
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)![1]
  const config = parseConfig(yaml, 'README.md')
  t.ok(config.routes.length >= 2)
  for (const key of Object.keys(ServiceSchema.properties)) t.match(yaml, new RegExp(`\\b${key}:`), `service key ${key}`)
  for (const key of Object.keys(RouteSchema.properties)) t.match(yaml, new RegExp(`\\b${key}:`), `route key ${key}`)
})
