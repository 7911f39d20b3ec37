import fp from 'fastify-plugin'
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http'
import type { FastifyError, FastifyInstance } from 'fastify'
import { RouteNotFoundError } from '../../errors.ts'

/** The contract's error body: every error a client sees has this shape. */
export function errorBody (statusCode: number, message: string, requestId: string) {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, requestId }
}

/**
 * Shapes every error into the contract's JSON body. Client errors (4xx) and upstream failures
 * (502-504) keep their message; anything else is our own bug: logged with its stack, sent as a
 * bare 500 so nothing internal leaks.
 */
async function errorHandler (app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = error.statusCode ?? 500
    if (status < 400 || status > 599) status = 500
    if (error.validation) status = 400
    const internal = status === 500
    if (internal) request.log.error({ err: error }, 'unhandled error')
    else if (status >= 500) request.log.warn({ err: error, cause: error.cause }, error.message)
    const message = internal ? 'Internal Server Error' : error.message
    const headers = (error as { headers?: Record<string, string> }).headers
    if (headers) reply.headers(headers)
    if (!request.raw.complete && hasBody(request.headers)) {
      // The client is still sending a body we will not read (413, or a failure mid-upload):
      // discard what arrives so it can read this answer, then close rather than reuse the socket.
      // (A bodyless GET answered synchronously is not `complete` yet either: keep its connection.)
      reply.header('connection', 'close')
      request.raw.resume()
    }
    reply.code(status).type('application/json; charset=utf-8').send(errorBody(status, message, request.id))
  })

  app.setNotFoundHandler((request, reply) => {
    const error = new RouteNotFoundError(request.method, request.url.split('?')[0])
    reply.code(404).send(errorBody(404, error.message, request.id))
  })
}

function hasBody (headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] !== undefined && headers['content-length'] !== '0')
}

export default fp(errorHandler, { name: 'portico-error-handler', fastify: '5.x' })
