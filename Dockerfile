# The tracker image: multi-stage, production dependencies only, runs as the unprivileged "node" user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY package.json example.json redis.conf ./
COPY lua lua
# The accounting consumer's schema: the image also runs `node dist/src/consumer/cli.js`.
COPY sql sql
USER node
# HTTP and UDP announces, metrics.
EXPOSE 6969/tcp 6969/udp 6880/tcp
ENTRYPOINT ["node", "dist/src/cli.js"]
