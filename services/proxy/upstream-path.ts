/**
 * Builds the upstream path of a request from the route's `upstreamPath` template, compiled once
 * per route. Parameter values arrive decoded from the router; they are re-encoded here, and any
 * dot-segment in them (plain, percent-encoded or double-encoded) is refused, so no request can
 * climb out of the route's upstream path.
 */
export type UpstreamPathBuilder = (params: Record<string, string | undefined>) => string | null

type Part = string | { param: string } | { wildcard: true }

export function compileUpstreamPath (template: string): UpstreamPathBuilder {
  const parts: Part[] = []
  const re = /:([A-Za-z0-9_]+)|\*$/g
  let last = 0
  for (const match of template.matchAll(re)) {
    if (match.index > last) parts.push(template.slice(last, match.index))
    parts.push(match[0] === '*' ? { wildcard: true } : { param: match[1] })
    last = match.index + match[0].length
  }
  if (last < template.length) parts.push(template.slice(last))

  if (parts.every(p => typeof p === 'string')) {
    const fixed = template
    return () => fixed
  }
  return (params) => {
    let out = ''
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part
      } else if ('param' in part) {
        const value = params[part.param] ?? ''
        if (hasDotSegment(value)) return null
        out += encodeSegment(value)
      } else {
        const rest = params['*'] ?? ''
        if (hasDotSegment(rest)) return null
        out += rest.split('/').map(encodeSegment).join('/')
      }
    }
    return out
  }
}

/** True when the value, split on / or \, has a `.` or `..` segment, also after one more decoding. */
export function hasDotSegment (value: string): boolean {
  if (isDotSegmented(value)) return true
  if (!value.includes('%')) return false
  try {
    return isDotSegmented(decodeURIComponent(value))
  } catch {
    return true // malformed escapes: refuse rather than guess what the upstream will make of them
  }
}

function isDotSegmented (value: string): boolean {
  for (const segment of value.split(/[/\\]/)) {
    if (segment === '.' || segment === '..') return true
  }
  return false
}

// encodeURIComponent escapes sub-delimiters that RFC 3986 allows in a path segment; keep those
// as the client wrote them so the upstream sees the same path.
const KEEP = /%(3A|40|24|26|2B|2C|3B|3D)/gi
const KEPT: Record<string, string> = { '3A': ':', 40: '@', 24: '$', 26: '&', '2B': '+', '2C': ',', '3B': ';', '3D': '=' }

function encodeSegment (value: string): string {
  return encodeURIComponent(value).replace(KEEP, (_m, hex: string) => KEPT[hex.toUpperCase()])
}
