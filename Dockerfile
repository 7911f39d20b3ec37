# Portico API gateway. Build: docker build -t portico .   Run: docker run -p 8080:8080 portico
# Without GATEWAY_CONFIG the image serves the bundled example config (and starts the example
# services beside the gateway, as `npm start` does); mount your own file and set GATEWAY_CONFIG.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---- production dependencies only: what the runtime stage ships ------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund

# ---- build: every dependency, tsc -p tsconfig.build.json -> dist/ -----------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY . .
RUN npm run build
# Everything the runtime needs besides node_modules, gathered in one place: the compiled code,
# package.json (read for name/version), the example config (the default when GATEWAY_CONFIG is
# unset), the compose config, and the SQL migrations when the tracking concern ships them.
RUN mkdir -p /out/examples \
 && cp -r dist package.json deploy /out/ \
 && cp examples/gateway.yaml /out/examples/ \
 && if [ -d drizzle ]; then cp -r drizzle /out/; fi

# ---- runtime -------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="portico" \
      org.opencontainers.image.description="Portico: an API gateway built from Fastify plugins"
WORKDIR /app
ENV PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
# Code and dependencies stay root-owned (the process cannot rewrite them); only DATA_DIR, where
# the embedded database lives when DATABASE_URL is unset, belongs to the unprivileged user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /out ./
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
# Liveness only: /health never waits on Redis, the database or an upstream. No curl in slim
# images, so Node's own fetch. PORT is read at check time, so the example-service containers
# (same image, other ports, also serving /health) are checked too.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# server.ts drains in-flight requests on SIGTERM (SHUTDOWN_TIMEOUT) and exits 0. node runs as
# PID 1 here; it installs its own SIGTERM/SIGINT handlers, so the signal is not ignored.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
