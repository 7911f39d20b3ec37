/** Checks across auth variables that no single field's schema can express. */
export function authEnvProblems (env: Record<string, unknown>): string[] {
  const problems: string[] = []
  const local = ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWKS_URL'].filter(name => env[name] !== undefined)
  if (local.length > 1) problems.push(`${local.join(', ')}: set only one of JWT_SECRET, JWT_PUBLIC_KEY and JWKS_URL (local verification uses one key source)`)
  if (typeof env.JWT_SECRET === 'string' && env.JWT_SECRET.includes('-----BEGIN')) {
    problems.push('JWT_SECRET: expected a shared secret, got a PEM key; put a public key in JWT_PUBLIC_KEY')
  }
  if (env.SESSION_TTL === 0) problems.push('SESSION_TTL: expected a duration above 0, got "0"')
  return problems
}
