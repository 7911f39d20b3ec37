/**
 * Why a credential was not accepted, as the services see it. The auth plugin turns `invalid` into
 * a 401 (with `WWW-Authenticate`) and `unavailable` into a 503; services stay free of Fastify.
 */
export class AuthFailure extends Error {
  /** `invalid`: the credential is bad (401). `unavailable`: it cannot be checked now (503). */
  readonly kind: 'invalid' | 'unavailable'
  /** What could not be reached, for `unavailable`: `auth service` or `session store`. */
  readonly subject?: string

  constructor (kind: 'invalid' | 'unavailable', message: string, options: { subject?: string, cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AuthFailure'
    this.kind = kind
    this.subject = options.subject
  }
}

export const invalid = (message: string): AuthFailure => new AuthFailure('invalid', message)
export const unavailable = (subject: string, cause?: unknown): AuthFailure =>
  new AuthFailure('unavailable', `${subject} unavailable`, { subject, cause })
