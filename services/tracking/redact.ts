export const REDACTED = '[REDACTED]'

/** Headers whose values are credentials (contract §6). Lower-case, as Node delivers them. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'])

/** Body fields named like a credential: password, passwd, passphrase, token, access_token, secret, client_secret, api_key... */
const SECRET_FIELD = /pass(?:word|wd|phrase)|token|secret|api[-_]?key|credential|authorization/i

// A "key": value pair in JSON text, for bodies too long (truncated) or too broken to parse: the
// value is a string (possibly cut off), a scalar up to the next delimiter, or an opening brace.
const JSON_PAIR = /"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*(?:"|$)|\{|\[|[^,{}[\]"\s]+)/g

/** A header whose value is stored as REDACTED (copy-line.ts `headersJson`), whatever its case. */
export function isSecretHeader (name: string): boolean {
  return SECRET_HEADERS.has(name.toLowerCase())
}

export function isSecretField (name: string): boolean {
  return SECRET_FIELD.test(name)
}

/**
 * Replaces the values of credential-named fields in a JSON or form body. Complete JSON is parsed
 * and walked (nested objects and arrays); a truncated or invalid one is redacted pair by pair in
 * its text, so a cut never leaks what a parse would have hidden.
 */
export function redactBody (text: string, kind: 'json' | 'form' | 'text', complete: boolean): string {
  // Most bodies name no credential anywhere: one scan, no parse, stored as they came.
  if (kind === 'text' || !SECRET_FIELD.test(text)) return text
  if (kind === 'form') return redactForm(text)
  if (kind === 'json') {
    if (complete) {
      try {
        return JSON.stringify(redactValue(JSON.parse(text)))
      } catch {}
    }
    return redactJsonText(text)
  }
  return text
}

function redactValue (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactValue)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_FIELD.test(key) ? REDACTED : redactValue(v)
    return out
  }
  return value
}

function redactJsonText (text: string): string {
  let out = ''
  let last = 0
  JSON_PAIR.lastIndex = 0
  for (let m = JSON_PAIR.exec(text); m !== null; m = JSON_PAIR.exec(text)) {
    // A non-secret key's object is scanned on from its brace, so nested pairs are seen too.
    if (!SECRET_FIELD.test(m[1])) continue
    const value = m[3]
    const valueStart = m.index + m[0].length - value.length
    const valueEnd = value === '{' || value === '[' ? skipNested(text, valueStart) : valueStart + value.length
    out += text.slice(last, valueStart) + `"${REDACTED}"`
    last = valueEnd
    JSON_PAIR.lastIndex = valueEnd
  }
  return last === 0 ? text : out + text.slice(last)
}

/** End of the object or array starting at `i` (strings respected); the text's end when it was cut. */
function skipNested (text: string, i: number): number {
  let depth = 0
  let inString = false
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x7b || c === 0x5b) {
      depth++
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return i + 1
    }
  }
  return text.length
}

function redactForm (text: string): string {
  if (text.length === 0) return text
  const pairs = text.split('&')
  let changed = false
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf('=')
    const rawKey = eq === -1 ? pairs[i] : pairs[i].slice(0, eq)
    let key = rawKey
    try { key = decodeURIComponent(rawKey.replace(/\+/g, ' ')) } catch {}
    if (SECRET_FIELD.test(key)) {
      pairs[i] = `${rawKey}=${REDACTED}`
      changed = true
    }
  }
  return changed ? pairs.join('&') : text
}
