import t from 'tap'
import { parseConfig } from '../../../services/config/load-config.ts'
import { loadEnv } from '../../../services/config/env.ts'
import { ConfigError } from '../../../services/config/config-error.ts'
import { rsaKeyPair } from './tokens.ts'
import { generateKeyPairSync } from 'node:crypto'

const configProblems = (route: Record<string, unknown>): string[] => {
  try {
    parseConfig(JSON.stringify({ services: { s: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/x', service: 's', ...route }] }), 'gw.json')
    return []
  } catch (err) {
    return (err as ConfigError).problems
  }
}
const envProblems = (env: Record<string, string>): string[] => {
  try {
    loadEnv(env)
    return []
  } catch (err) {
    return (err as ConfigError).problems
  }
}

t.test('route keys: auth, scopes, session — exact messages', async (t) => {
  t.same(configProblems({ auth: 'maybe' }), ['routes[0].auth: expected none, optional or required, got "maybe"'])
  t.same(configProblems({ auth: true }), ['routes[0].auth: expected none, optional or required, got true'])
  t.same(configProblems({ scopes: [] }), ['routes[0].scopes: expected a non-empty list of distinct scope names without spaces, got []'])
  t.same(configProblems({ scopes: 'users:read' }), ['routes[0].scopes: expected a non-empty list of distinct scope names without spaces, got "users:read"'])
  t.same(configProblems({ scopes: ['a b'] }), ['routes[0].scopes[0]: expected a scope name without spaces, got "a b"'])
  t.same(configProblems({ scopes: ['a'], auth: 'optional' }), ['routes[0].scopes: scopes need auth: required, got auth: "optional"'])
  t.same(configProblems({ session: 'start' }), ['routes[0].session: expected create or destroy, got "start"'])
  t.same(configProblems({ auth: 'required', scopes: ['a'], session: 'destroy' }), [])
  const route = parseConfig(JSON.stringify({ services: { s: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/x', service: 's', scopes: ['a'] }, { path: '/y', service: 's' }] }), 'gw.json').routes
  t.equal(route[0].auth, 'required', 'scopes alone imply auth: required')
  t.equal(route[1].auth, 'none')
  t.same(route[1].scopes, [])
})

t.test('env: auth variables — exact messages', async (t) => {
  const env = loadEnv({})
  t.equal(env.SESSION_COOKIE, 'session')
  t.equal(env.SESSION_TTL, 86_400_000)
  t.equal(env.SESSION_COOKIE_SECURE, false)
  t.equal(env.AUTH_VERIFY_CACHE_TTL, 30_000)
  t.equal(env.RATE_LIMIT_TRUST_HEADERS, false)
  t.same(envProblems({ JWT_PUBLIC_KEY: 'not a key' }), ['JWT_PUBLIC_KEY: expected a PEM public key (-----BEGIN PUBLIC KEY-----) of type RSA (2048 bits or more), EC (P-256, P-384, P-521) or Ed25519, got "not a key"'])
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string
  t.equal(envProblems({ JWT_PUBLIC_KEY: weak }).length, 1, 'a 1024-bit RSA key is refused')
  t.equal(envProblems({ JWT_PUBLIC_KEY: rsaKeyPair().privatePem }).length, 1, 'a private key is refused')
  t.same(envProblems({ JWKS_URL: 'ftp://x' }), ['JWKS_URL: expected a URL starting with http:// or https://, got "ftp://x"'])
  t.same(envProblems({ AUTH_VERIFY_URL: 'nope' }), ['AUTH_VERIFY_URL: expected a URL starting with http:// or https://, got "nope"'])
  t.same(envProblems({ SESSION_COOKIE: 'a b' }), ['SESSION_COOKIE: expected a cookie name (letters, digits and !#$%&\'*+.^_`|~-), got "a b"'])
  t.same(envProblems({ SESSION_TTL: '0' }), ['SESSION_TTL: expected a duration above 0, got "0"'])
  t.same(envProblems({ SESSION_COOKIE_SECURE: 'maybe' }), ['SESSION_COOKIE_SECURE: expected true or false, got "maybe"'])
  t.same(envProblems({ AUTH_VERIFY_CACHE_TTL: 'soon' }), ['AUTH_VERIFY_CACHE_TTL: expected a duration like 500ms, 10s, 1m, 1h, 1d or a number of milliseconds, got "soon"'])
  t.same(envProblems({ JWT_SECRET: 's', JWKS_URL: 'https://idp.example/jwks' }), ['JWT_SECRET, JWKS_URL: set only one of JWT_SECRET, JWT_PUBLIC_KEY and JWKS_URL (local verification uses one key source)'])
  t.same(envProblems({ JWT_SECRET: rsaKeyPair().publicPem }), ['JWT_SECRET: expected a shared secret, got a PEM key; put a public key in JWT_PUBLIC_KEY'])
  const pem = rsaKeyPair().publicPem
  t.equal(loadEnv({ JWT_PUBLIC_KEY: pem.replace(/\n/g, '\\n') }).JWT_PUBLIC_KEY, pem, 'escaped newlines decoded')
})
