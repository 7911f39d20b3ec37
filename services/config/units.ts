/** Parsing of the human units the contract accepts: durations (`500ms`, `10s`, `1m`) and sizes (`512kb`). */

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)?\\s*$'
export const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(b|kb|mb|gb)?\\s*$'

const durationRe = new RegExp(DURATION_PATTERN, 'i')
const sizeRe = new RegExp(SIZE_PATTERN, 'i')

/** Milliseconds from a number (already ms) or a string such as `1.5s`; NaN when it is not one. */
export function parseDuration (value: string | number): number {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : NaN
  if (!durationRe.test(value)) return NaN
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)!
  return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] || 'ms').toLowerCase()])
}

/** Bytes from a number (already bytes) or a string such as `512kb`; NaN when it is not one. */
export function parseSize (value: string | number): number {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : NaN
  if (!sizeRe.test(value)) return NaN
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)!
  return Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] || 'b').toLowerCase()])
}
