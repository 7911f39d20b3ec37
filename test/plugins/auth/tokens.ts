import { createSigner } from 'fast-jwt'
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto'

/** Test helpers: real tokens signed in the test, with the algorithms a real provider uses. */
export const SECRET = 'test-secret-that-is-long-enough-for-hs256!'

export function hs256 (claims: Record<string, unknown>, options: { secret?: string, expiresIn?: number, notBefore?: number, kid?: string } = {}): string {
  const sign = createSigner({
    key: options.secret ?? SECRET,
    algorithm: 'HS256',
    ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
    ...(options.notBefore !== undefined ? { notBefore: options.notBefore } : {}),
    ...(options.kid !== undefined ? { kid: options.kid } : {})
  })
  return sign(claims)
}

export interface KeyPair { privateKey: KeyObject, publicPem: string, privatePem: string }

export function rsaKeyPair (): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }
}

export function ecKeyPair (): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }
}

export function signWith (pair: KeyPair, algorithm: 'RS256' | 'ES256', claims: Record<string, unknown>, options: { kid?: string, expiresIn?: number } = {}): string {
  return createSigner({
    key: pair.privatePem,
    algorithm,
    ...(options.kid !== undefined ? { kid: options.kid } : {}),
    ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {})
  })(claims)
}

/** A token with `alg: none` and no signature, as an attacker would craft it. */
export function unsigned (claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`
}

/** An HS256 token whose HMAC key is the PEM text of a public key: the classic algorithm-confusion forgery. */
export function confused (publicPem: string, claims: Record<string, unknown>): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const input = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ ...claims, iat: Math.floor(Date.now() / 1000) })}`
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`
}
