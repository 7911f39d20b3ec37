import type { RouteConfig } from '../../services/config/load-config.ts'
import type { RouteDocs } from '../docs/index.ts'

const UNAUTHORIZED = 'No credentials, or bad ones (`WWW-Authenticate: Bearer`)'

/** What /docs says about a route with auth: the security schemes, the requirement, 401/403. */
export function authDocs (route: RouteConfig, cookieName: string): RouteDocs {
  const either: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { cookieAuth: [] }]
  const scopes = route.scopes.map(s => `\`${s}\``).join(', ')
  return {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A token from the identity provider (or the verify service), as `Authorization: Bearer <token>`' },
      cookieAuth: { type: 'apiKey', in: 'cookie', name: cookieName, description: 'The gateway session cookie set by a login route (`session: create`)' }
    },
    // An empty requirement makes the credentials optional (OpenAPI 3.0 §4.7.28).
    security: route.auth === 'required' ? either : [{}, ...either],
    responses: route.scopes.length > 0
      ? { 401: UNAUTHORIZED, 403: `The identity lacks a required scope (${scopes})` }
      : { 401: UNAUTHORIZED },
    description: route.auth === 'required'
      ? `**Authentication required**${scopes ? `; scopes: ${scopes}` : ''}.`
      : '**Authentication optional**: credentials, when sent, must be valid.'
  }
}
