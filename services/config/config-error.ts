/**
 * A user's mistake in the environment or the config file. `server.ts` and `portico check` print
 * its message and exit 1 without a stack trace.
 */
export class ConfigError extends Error {
  readonly problems: string[]

  constructor (heading: string, problems: string[]) {
    super(`${heading}:\n${problems.map(p => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}
