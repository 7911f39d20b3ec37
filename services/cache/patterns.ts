/**
 * Cache path patterns (route `invalidates`, admin purge) and the index names entries are stored
 * under. `/api/users` is that exact path (any query); `/api/users/*` is everything below
 * `/api/users/` but not `/api/users` itself; `:name` segments are filled from the request's params.
 */

// What encodeURIComponent leaves as it is, and the separator: a path of only these is canonical.
const CANONICAL = /^[A-Za-z0-9\-_.!~*'()/]*$/

/**
 * A path with each segment percent-encoded as encodeURIComponent would: `/api/users/%34%32`,
 * `/api/users/42` and a `:id` pattern filled with 42 all index as `/api/users/42`, so a purge
 * finds an entry however its client encoded the path (entries stay keyed by the path as sent).
 * A segment that does not decode is kept as it is.
 */
export function canonicalPath (path: string): string {
  if (CANONICAL.test(path)) return path
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    try {
      segments[i] = encodeURIComponent(decodeURIComponent(segments[i]))
    } catch {}
  }
  return segments.join('/')
}

/** Deeper paths are not cached: each level is one index write, and a client chooses the depth. */
export const MAX_INDEXED_DEPTH = 16

/** Index names of an entry at `path`: its exact path and every directory above it, or null when too deep. */
export function indexesOf (rawPath: string): string[] | null {
  const path = canonicalPath(rawPath)
  const out = [`p:${path}`]
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    if (out.length > MAX_INDEXED_DEPTH) return null
    out.push(`d:${path.slice(0, i + 1)}`)
  }
  return out
}

/** The index a (filled) pattern purges. */
export function indexOfPattern (pattern: string): string {
  return pattern.endsWith('/*') ? `d:${canonicalPath(pattern.slice(0, -1))}` : `p:${canonicalPath(pattern)}`
}

/** What is wrong with a pattern, or null. `params` = the names it may use (none for the admin API). */
export function patternProblem (pattern: string, params: string[] | null): string | null {
  if (!pattern.startsWith('/')) return `expected a path starting with /, got ${JSON.stringify(pattern)}`
  const star = pattern.indexOf('*')
  if (star !== -1 && (star !== pattern.length - 1 || !pattern.endsWith('/*'))) {
    return `a wildcard is only allowed as a last segment /*, got ${JSON.stringify(pattern)}`
  }
  for (const m of pattern.matchAll(/:([A-Za-z0-9_]+)/g)) {
    if (params === null) return `a purge pattern cannot hold parameters (:${m[1]}); write the value, got ${JSON.stringify(pattern)}`
    if (!params.includes(m[1])) return `parameter :${m[1]} is not in the route path`
  }
  return null
}

type Part = string | { param: string }

/** A pattern compiled once per route: `fill(params)` gives the index to purge for one request. */
export interface CompiledPattern {
  pattern: string
  fill (params: Record<string, string | undefined>): string
}

export function compilePattern (pattern: string): CompiledPattern {
  const parts: Part[] = []
  let last = 0
  for (const m of pattern.matchAll(/:([A-Za-z0-9_]+)/g)) {
    parts.push(pattern.slice(last, m.index), { param: m[1] })
    last = m.index + m[0].length
  }
  parts.push(pattern.slice(last))
  if (parts.length === 1) {
    const index = indexOfPattern(pattern)
    return { pattern, fill: () => index }
  }
  return {
    pattern,
    fill (params) {
      let out = ''
      // Params arrive decoded; encoded again they give the canonical path entries are indexed by.
      for (const part of parts) out += typeof part === 'string' ? part : encodeURIComponent(params[part.param] ?? '')
      return indexOfPattern(out)
    }
  }
}
