# Peregrine hub: durable Falco-compatible alert routing (`peregrine hub`, docs/hub.md).
# Build from the repository root:  docker build -f deploy/docker/hub.Dockerfile -t peregrine/hub .
# Needs an external Redis (--redis / redis.url): the image has no redis-server.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --workspace=@peregrine/hub --include-workspace-root=false --ignore-scripts --no-audit --no-fund
RUN npm install --prefix /opt/tsx --no-audit --no-fund --no-save tsx@4.23.15 \
 && cp -a /opt/tsx/node_modules/. node_modules/
RUN set -eux; \
    rm -rf apps/responder apps/sensor apps/cli native test bench docs .cache node_modules/typescript; \
    find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete

FROM gcr.io/distroless/cc-debian12
LABEL org.opencontainers.image.title="peregrine-hub" \
      org.opencontainers.image.description="Peregrine hub: Falco http_output / Falcosidekick-compatible ingest, Redis queues, destinations" \
      org.opencontainers.image.source="https://github.com/peregrine/peregrine" \
      io.peregrine.component="hub"
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app /app
WORKDIR /app
ENV NODE_ENV=production \
    PEREGRINE_HEALTH_URL=http://127.0.0.1:2801/readyz
# distroless's nonroot user: the hub needs no privilege (port 2801 > 1024).
USER 65532:65532
EXPOSE 2801
# /readyz: 200 only while Redis answers.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch(process.env.PEREGRINE_HEALTH_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/node", "--import", "tsx", "/app/apps/hub/src/main.ts"]
CMD ["--config", "/etc/peregrine/hub.yaml"]
