import { Value } from '@sinclair/typebox/value'
import type { Static, TSchema } from '@sinclair/typebox'

/**
 * A plugin's options, checked against its schema when it is registered: defaults filled in (on a
 * copy), every problem named in one error, the result frozen. Options come from the validated env
 * and config in app.ts, so a failure here is a programming error of whoever composes the plugins,
 * and it stops start-up with a message that says which option is wrong.
 */
export function checkPluginOptions<S extends TSchema> (plugin: string, schema: S, raw: unknown): Readonly<Static<S>> {
  const options = Value.Default(schema, raw !== null && typeof raw === 'object' ? { ...raw } : raw)
  const problems = [...Value.Errors(schema, options)].map(e => `${e.path || '(options)'}: ${e.message}`)
  if (problems.length > 0) throw new Error(`${plugin}: invalid options: ${problems.join('; ')}`)
  return Object.freeze(options as Static<S>)
}
