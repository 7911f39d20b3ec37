import createError from '@fastify/error'

/**
 * Every error Portico raises on purpose. The error handler turns each into the contract's JSON
 * body; upstream failures keep what undici said as `cause` for the log.
 */
export const UpstreamUnavailableError = createError('PORTICO_ERR_UPSTREAM_UNAVAILABLE', '%s service unavailable', 503)
export const UpstreamTimeoutError = createError('PORTICO_ERR_UPSTREAM_TIMEOUT', '%s service timed out', 504)
// resilience (issue 7): every target's circuit is open; carries Retry-After in `headers`.
export const CircuitOpenError = createError('PORTICO_ERR_CIRCUIT_OPEN', '%s service unavailable', 503)
export const UnknownServiceError = createError('PORTICO_ERR_UNKNOWN_SERVICE', 'unknown service %s', 404)
export const RegistryUnavailableError = createError('PORTICO_ERR_REGISTRY_UNAVAILABLE', 'service registry unavailable', 503)
export const BadGatewayError = createError('PORTICO_ERR_BAD_GATEWAY', '%s service sent an invalid response', 502)
export const BodyTooLargeError = createError('PORTICO_ERR_BODY_TOO_LARGE', 'request body is larger than %d bytes', 413)
export const UnsupportedMediaTypeError = createError('PORTICO_ERR_UNSUPPORTED_MEDIA_TYPE', 'content type %s is not accepted by this route', 415)
export const InvalidBodyError = createError('PORTICO_ERR_INVALID_BODY', 'body is not valid %s', 400)
export const PathTraversalError = createError('PORTICO_ERR_PATH_TRAVERSAL', 'path must not contain dot-segments', 400)
export const RouteNotFoundError = createError('PORTICO_ERR_NOT_FOUND', 'Route %s:%s not found', 404)
export const AdminUnauthorizedError = createError('PORTICO_ERR_ADMIN_UNAUTHORIZED', 'a valid admin bearer token is required', 401)
export const RateLimitedError = createError('PORTICO_ERR_RATE_LIMITED', 'rate limit exceeded, retry in %s', 429)
export const RateLimitStoreUnavailableError = createError('PORTICO_ERR_RATE_LIMIT_STORE', 'rate limit store unavailable', 503)
export const TrackingDisabledError = createError('PORTICO_ERR_TRACKING_DISABLED', 'request tracking is disabled (TRACKING_ENABLED=false)', 404)
export const InvalidCachePatternError = createError('PORTICO_ERR_INVALID_CACHE_PATTERN', 'pattern: %s', 400)
export const CacheUnavailableError = createError('PORTICO_ERR_CACHE_UNAVAILABLE', 'cache store unavailable', 503)
// auth (issue 3): 401s carry `WWW-Authenticate: Bearer` in `error.headers`.
export const UnauthorizedError = createError('PORTICO_ERR_UNAUTHORIZED', '%s', 401)
export const ForbiddenError = createError('PORTICO_ERR_FORBIDDEN', '%s', 403)
export const AuthUnavailableError = createError('PORTICO_ERR_AUTH_UNAVAILABLE', '%s unavailable', 503)
