/**
 * `RATE_LIMIT_TIERS`: `anonymous:50,premium:1000` → { anonymous: 50, premium: 1000 }.
 * Returns a message instead of throwing so the env loader can print it beside the variable.
 */
const TIER_ENTRY = /^([A-Za-z0-9_.-]+)\s*:\s*(\d+)$/

export function parseTiers (text: string): { tiers: Record<string, number> } | { error: string } {
  const tiers: Record<string, number> = Object.create(null)
  const trimmed = text.trim()
  if (trimmed === '') return { tiers }
  for (const part of trimmed.split(',')) {
    const match = TIER_ENTRY.exec(part.trim())
    if (match === null) return { error: `${JSON.stringify(part.trim())} is not tier:max` }
    const [, name, max] = match
    if (name in tiers) return { error: `tier ${name} is listed twice` }
    const n = Number(max)
    if (!Number.isSafeInteger(n) || n < 1) return { error: `tier ${name} needs a max of at least 1` }
    tiers[name] = n
  }
  return { tiers }
}

/** The max for a tier: its own entry, else the default (RATE_LIMIT_MAX). */
export function tierLimits (tiers: Record<string, number>, defaultMax: number): (tier: string) => number {
  const table = new Map(Object.entries(tiers))
  return (tier) => table.get(tier) ?? defaultMax
}
