import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { FastifySchema } from 'fastify'
import { ErrorResponse } from '../../schemas/gateway-api.ts'
import { PACKAGE } from '../../services/config/package-info.ts'
import { paramNames } from '../../services/config/load-config.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a concern adds to a proxied route's OpenAPI operation, by concern name (set in onRoute). */
    docs?: Record<string, RouteDocs>
  }
}

/** A concern's additions to one operation: read when the document is built, never at run time. */
export interface RouteDocs {
  /** Merged into `components.securitySchemes`. */
  securitySchemes?: Record<string, unknown>
  /** The operation's security requirement. */
  security?: Array<Record<string, string[]>>
  /** Extra error responses: status code → description (body: the error shape). */
  responses?: Record<number, string>
  /** A paragraph appended to the description. */
  description?: string
}

// What a proxied route can answer besides its upstream's own statuses (contract §4).
const PROXY_ERRORS: Record<number, string> = {
  400: 'Invalid request (the message names the field)',
  404: 'Not found (from the upstream)',
  413: 'Request body too large',
  502: 'The upstream answered garbage or dropped the connection',
  503: 'The upstream is unreachable',
  504: 'The upstream timed out'
}

/**
 * The OpenAPI document behind /docs, built by @fastify/swagger from the route schemas themselves:
 * the config file's schemas for proxied routes, TypeBox schemas for the gateway's own. Proxied
 * routes get their path parameters and the error responses the gateway can give added here, for
 * the document only, so validation at run time stays exactly what the config declared.
 */
async function docs (app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Portico API gateway', version: PACKAGE.version, description: 'Every route this gateway proxies, and its own endpoints (tag Gateway).' },
      tags: [{ name: 'Gateway', description: "The gateway's own endpoints" }],
      components: { schemas: {} }
    },
    hideUntagged: false,
    transform: (arg) => transformRoute(arg.schema, arg.url, arg.route as RouteOptions, (arg as unknown as { openapiObject: OpenApiDocument }).openapiObject)
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: true, tryItOutEnabled: false },
    staticCSP: true
  })
}

type OpenApiDocument = { components: { securitySchemes?: Record<string, unknown> } }

function transformRoute (schema: FastifySchema | undefined, url: string, route: RouteOptions, document: OpenApiDocument) {
  const route_ = route.config?.route
  if (route_ === undefined) return { schema: { ...schema, tags: (schema?.tags as string[] | undefined) ?? ['Gateway'] }, url }
  const wildcard = url.endsWith('*')
  const docUrl = wildcard ? url.slice(0, -1) + ':path' : url
  const out: Record<string, unknown> = { ...schema }
  const declared = (schema?.params as { properties?: Record<string, unknown> } | undefined)?.properties ?? {}
  const names = paramNames(docUrl).filter(n => !(n in declared))
  if (names.length > 0) {
    const params = (schema?.params ?? { type: 'object', properties: {}, required: [] }) as { properties: Record<string, unknown>, required?: string[] }
    out.params = {
      ...params,
      properties: {
        ...params.properties,
        ...Object.fromEntries(names.map(n => [n, n === 'path' && wildcard
          ? { type: 'string', description: 'The rest of the path, appended to the upstream path' }
          : { type: 'string' }]))
      },
      required: [...new Set([...(params.required ?? []), ...names])]
    }
  }
  const response = { ...(schema?.response as Record<string, unknown> | undefined) }
  for (const [code, description] of Object.entries(PROXY_ERRORS)) {
    if (!(code in response)) response[code] = { ...ErrorResponse, description }
  }
  const descriptions = [route_.description, `Proxied to the **${route_.service}** service (\`${route_.upstreamPath}\`).`]
  for (const extra of Object.values(route.config?.docs ?? {})) {
    if (extra.securitySchemes) document.components.securitySchemes = { ...document.components.securitySchemes, ...extra.securitySchemes }
    if (extra.security) out.security = extra.security
    for (const [code, description] of Object.entries(extra.responses ?? {})) {
      if (!(code in response)) response[code] = { ...ErrorResponse, description }
    }
    if (extra.description) descriptions.push(extra.description)
  }
  out.response = response
  out.description = descriptions.filter(Boolean).join('\n\n')
  return { schema: out as FastifySchema, url: docUrl }
}

export default fp(docs, { name: 'portico-docs', fastify: '5.x' })
