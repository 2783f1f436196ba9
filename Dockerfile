# syntax=docker/dockerfile:1
# runbook-bot: build with the full toolchain, run on a slim Node 24 image as a non-root user.

FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-trixie-slim
# pg_dump/pg_restore for backups and restore tests (trixie ships PostgreSQL 17 clients, which dump servers up to 17);
# gnupg encrypts backups (pg_dump | gpg -e).
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client gnupg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/data \
    RUNBOOK_BOT_CONFIG=/etc/runbook-bot/runbook-bot.yml
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN mkdir -p /data /etc/runbook-bot && chown node:node /data
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# A young generation of 4 MB semi-spaces instead of V8's 16 MB: the bot allocates little per request, and the 32 MB
# default kept resident for it was a quarter of the idle process (README, Deployment; bench:footprint reads this line).
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]
