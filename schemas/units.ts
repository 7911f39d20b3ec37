import { Type, type TSchema } from '@sinclair/typebox'
import { DURATION_PATTERN, SIZE_PATTERN } from '../services/config/units.ts'

/**
 * A duration as written by a user: milliseconds as a number or a string like `10s`.
 * `expected` is the phrase validation errors print, so a user reads "a duration like 10s", not a regex.
 */
export const Duration = (options: { description: string, default?: string | number }) =>
  Type.Union([
    Type.Integer({ minimum: 0 }),
    Type.String({ pattern: DURATION_PATTERN })
  ], { ...options, expected: 'a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds' })

export const Size = (options: { description: string, default?: string | number }) =>
  Type.Union([
    Type.Integer({ minimum: 0 }),
    Type.String({ pattern: SIZE_PATTERN })
  ], { ...options, expected: 'a size like 512kb, 1mb or a number of bytes' })

/** The phrase a schema wants printed in its errors, when it has one. */
export function expectedOf (schema: TSchema | undefined): string | undefined {
  return schema?.expected as string | undefined
}
