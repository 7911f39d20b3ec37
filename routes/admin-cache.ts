import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { patternProblem } from '../services/cache/patterns.ts'
import { CacheUnavailableError, InvalidCachePatternError } from '../errors.ts'
import { ErrorResponse } from '../schemas/gateway-api.ts'

const PurgeQuery = Type.Object({
  pattern: Type.String({ minLength: 1, description: 'A cache path: `/api/users` (that path, any query) or `/api/users/*` (everything below `/api/users/`, not `/api/users`)' })
})
const PurgeResult = Type.Object({
  purged: Type.Integer({ description: 'How many cached responses were removed' })
}, { additionalProperties: false })

/** `DELETE /admin/cache?pattern=`: purge cached responses on every instance sharing the store. */
export default async function adminCacheRoutes (app: FastifyInstance): Promise<void> {
  app.delete<{ Querystring: Static<typeof PurgeQuery> }>('/cache', {
    schema: {
      summary: 'Purge cached responses',
      tags: ['Gateway'],
      querystring: PurgeQuery,
      response: { 200: PurgeResult, 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse }
    }
  }, async (request) => {
    const { pattern } = request.query
    const problem = patternProblem(pattern, null)
    if (problem !== null) throw new InvalidCachePatternError(problem)
    try {
      return { purged: await app.cache.purgePatterns([pattern]) }
    } catch (err) {
      throw new CacheUnavailableError({ cause: err })
    }
  })
}
