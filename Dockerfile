# Fairway on Node.js 24 (current LTS). Build stage compiles TypeScript; the runtime stage holds
# only dist/, production dependencies and the config examples.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --ignore-scripts && npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production FAIRWAY_LOG_FORMAT=json
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY scripts/demo-backend.mjs ./scripts/demo-backend.mjs
USER node
EXPOSE 8080 8081
HEALTHCHECK --interval=5s --timeout=2s CMD ["node", "-e", "fetch('http://127.0.0.1:8081/-/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The flags are the ones the `fairway` executable passes in its first line (docs/architecture.md, "Memory").
ENTRYPOINT ["node", "--max-semi-space-size=8", "--v8-pool-size=1", "--heap-growing-percent=25", "dist/cli/main.js"]
# compose.yaml binds the admin API to 0.0.0.0, so it needs FAIRWAY_ADMIN_TOKEN in the environment.
CMD ["start", "-c", "/app/config/compose.yaml"]
