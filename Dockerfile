# syntax=docker/dockerfile:1
#
# odoo-ha-watch image.
#   docker build -t odoo-ha-watch .                 -> runtime image (last stage, the default target)
#   docker build --target setup -t odoo-ha-watch-setup .   -> runtime + curl, used by the compose `setup` job
#
# Runtime expects (the repo's config/ + rules/ layout, so the config's relative `../rules/*.yaml` resolves):
#   /etc/odoo-ha-watch/config/odoo-ha-watch.yaml   (mount read-only)
#   /etc/odoo-ha-watch/rules/                      (mount read-only)
#   /var/lib/odoo-ha-watch           (state volume, must be writable by uid 1000)
# Port 9108 serves /healthz, /readyz and /metrics.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript and the better-sqlite3 native addon --------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 falls back to node-gyp when no prebuilt binary matches; that needs a toolchain.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Manifests first so the dependency layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- runtime-base: only what the CLI needs at run time ------------------------------------
FROM ${NODE_IMAGE} AS runtime-base
ENV NODE_ENV=production
WORKDIR /app
# Application files stay root-owned so a compromised process cannot rewrite its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# A fresh named volume copies this directory's ownership, so the non-root user can write state.
RUN mkdir -p /etc/odoo-ha-watch/config /etc/odoo-ha-watch/rules /var/lib/odoo-ha-watch \
 && chown node:node /var/lib/odoo-ha-watch
# `node` (uid 1000) ships with the base image.
USER node

# ---- setup: one-shot provisioning job (ES passwords, Filebeat pipelines, Kibana objects) ----
# Kept out of the runtime image so the long-running service has no curl.
FROM runtime-base AS setup
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER node

# ---- runtime (default target) ----------------------------------------------------------------
FROM runtime-base AS runtime
EXPOSE 9108
# The image has no curl/wget; Node 20's fetch is enough for a liveness probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9108/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node as PID 1 ignores SIGTERM unless the app handles it; run with `docker run --init` (compose sets init: true).
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
# The config defaults suit a checkout (127.0.0.1, ../.state); a container must listen on all interfaces
# for the published port and keep state in the volume.
ENV OHW_HTTP_LISTEN=0.0.0.0 \
    OHW_STATE_PATH=/var/lib/odoo-ha-watch/odoo-ha-watch.db
CMD ["run", "--config", "/etc/odoo-ha-watch/config/odoo-ha-watch.yaml"]
