import { loadConfigFile } from '../services/config/load-config.ts'
import { ConfigError } from '../services/config/config-error.ts'

const USAGE = `Usage: portico check FILE   validate a gateway config file (YAML or JSON)
`

/** `portico check FILE`: the same validation and messages as start-up, exit 1 on a bad file. */
function main (argv: string[]): number {
  const [command, file, ...rest] = argv
  if (command !== 'check' || file === undefined || rest.length > 0) {
    process.stderr.write(USAGE)
    return 2
  }
  try {
    const config = loadConfigFile(file)
    const services = Object.keys(config.services).length
    process.stdout.write(`${file}: OK (${services} service${services === 1 ? '' : 's'}, ${config.routes.length} route${config.routes.length === 1 ? '' : 's'})\n`)
    return 0
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(err.message + '\n')
    return 1
  }
}

process.exitCode = main(process.argv.slice(2))
