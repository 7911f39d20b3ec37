import type { IncomingHttpHeaders } from 'node:http'

/**
 * The cache key of a request: `GET <path>?<query in sorted order>`, then one line per `vary` header
 * (`\n<name>:<value>`, just `\n<name>` when absent) and, on routes with auth, `\nuser:<id>` or
 * `\nanonymous`. HEAD uses the GET key. Lines are separated by `\n`, which no header value or
 * request target can contain, and the user id is percent-encoded, so no request can forge another's key.
 */
export function cacheKey (url: string, vary: readonly string[], headers: IncomingHttpHeaders, perUser: boolean, userId: string | null): string {
  const q = url.indexOf('?')
  let key = q === -1 ? `GET ${url}` : `GET ${url.slice(0, q)}${sortedQuery(url.slice(q + 1))}`
  for (let i = 0; i < vary.length; i++) {
    const value = headers[vary[i]]
    key += value === undefined ? `\n${vary[i]}` : `\n${vary[i]}:${String(value)}`
  }
  if (perUser) key += userId === null ? '\nanonymous' : `\nuser:${encodeURIComponent(userId)}`
  return key
}

/** `b=2&a=1&a=0` → `?a=1&a=0&b=2`: sorted by name, repeated names keep their order (it can matter). */
export function sortedQuery (query: string): string {
  if (query === '') return ''
  if (!query.includes('&')) return `?${query}`
  const pairs = query.split('&').filter(p => p !== '')
  pairs.sort(byName)
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`
}

function nameOf (pair: string): string {
  const eq = pair.indexOf('=')
  return eq === -1 ? pair : pair.slice(0, eq)
}

function byName (a: string, b: string): number {
  const x = nameOf(a)
  const y = nameOf(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The path part of a request target. */
export function pathOf (url: string): string {
  const q = url.indexOf('?')
  return q === -1 ? url : url.slice(0, q)
}
