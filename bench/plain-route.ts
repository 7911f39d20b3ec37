/**
 * Route keys that turn off the concerns a scenario is not measuring. Every proxied route has the
 * default rate limit and tracking on; `portico-plain` and each concern's scenario switch off all
 * but the one they measure, so each ratio isolates one concern.
 */
export const NO_RATE_LIMIT = { rateLimit: false } as const
export const NO_TRACKING = { track: false } as const
export const PLAIN_ROUTE_OFF = { ...NO_RATE_LIMIT, ...NO_TRACKING } as const
