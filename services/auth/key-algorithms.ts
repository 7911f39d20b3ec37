import { createPublicKey, type KeyObject } from 'node:crypto'

/**
 * The JWS algorithms a public key may verify, from the key's own type: the pinning that stops
 * algorithm confusion (an HS256 token "signed" with the public key as an HMAC secret) and
 * `alg: none`. A secret only ever verifies the HS family.
 */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512']

const EC_CURVES: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' }

const MIN_RSA_BITS = 2048
const rsaBits = (key: KeyObject) => key.asymmetricKeyDetails?.modulusLength ?? 0

export function algorithmsForKey (key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    // RSA below 2048 bits is breakable (NIST SP 800-131A): such a key verifies nothing.
    case 'rsa': return rsaBits(key) < MIN_RSA_BITS ? [] : ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']
    case 'rsa-pss': return rsaBits(key) < MIN_RSA_BITS ? [] : ['PS256', 'PS384', 'PS512']
    case 'ec': {
      const alg = EC_CURVES[key.asymmetricKeyDetails?.namedCurve ?? '']
      return alg === undefined ? [] : [alg]
    }
    case 'ed25519': return ['EdDSA']
    default: return []
  }
}

/**
 * Parses a PEM public key (JWT_PUBLIC_KEY), tolerating the `\n` escapes an env var often carries.
 * Returns the SPKI PEM and its algorithms; throws with a readable message when it is not one.
 */
export function parsePublicKeyPem (text: string): { pem: string, algorithms: string[] } {
  const pem = text.includes('\\n') ? text.replace(/\\n/g, '\n') : text
  if (!pem.includes('-----BEGIN')) throw new Error('not a PEM key (no -----BEGIN line)')
  if (/PRIVATE KEY-----/.test(pem)) throw new Error('a private key; give the public key')
  const key = createPublicKey(pem)
  const algorithms = algorithmsForKey(key)
  if (algorithms.length === 0 && key.asymmetricKeyType?.startsWith('rsa')) throw new Error(`RSA keys must have at least ${MIN_RSA_BITS} bits`)
  if (algorithms.length === 0) throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'}; expected RSA, EC (P-256, P-384, P-521) or Ed25519`)
  return { pem: key.export({ type: 'spki', format: 'pem' }) as string, algorithms }
}
