# Minimal image for now; the multi-architecture image with embedded abra is its own issue.
ARG BASE_IMAGE=node:24-bookworm-slim
FROM ${BASE_IMAGE}
WORKDIR /srv/lores-node
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY app ./app
EXPOSE 3000
CMD ["node", "app/server.ts"]
