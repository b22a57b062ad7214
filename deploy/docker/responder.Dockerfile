# Peregrine responder, HTTP form (apps/responder/src/serve.ts): POST / with a Falco JSON alert,
# the responder decides and (with Kubernetes credentials) deletes or labels the pod; the hub's
# webhook destination calls it. Build from the repository root:
#   docker build -f deploy/docker/responder.Dockerfile -t peregrine/responder .
# Configure with PEREGRINE_RESPONDER_POLICY(_FILE), PEREGRINE_KUBE_* / KUBECONFIG / in-cluster,
# PEREGRINE_RESPONDER_HOST/PORT/TOKEN (a token is required off loopback).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci --omit=dev --workspace=@peregrine/responder --include-workspace-root=false --ignore-scripts --no-audit --no-fund
RUN npm install --prefix /opt/tsx --no-audit --no-fund --no-save tsx@4.23.15 \
 && cp -a /opt/tsx/node_modules/. node_modules/
RUN set -eux; \
    rm -rf apps/hub apps/sensor apps/cli native bench docs .cache node_modules/typescript; \
    find test -mindepth 1 -maxdepth 1 ! -name servers -exec rm -rf {} +; \
    find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete

FROM gcr.io/distroless/cc-debian12 AS http
LABEL org.opencontainers.image.title="peregrine-responder" \
      org.opencontainers.image.description="Peregrine responder (HTTP form): automated response to Falco alerts" \
      org.opencontainers.image.source="https://github.com/peregrine/peregrine" \
      io.peregrine.component="responder"
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app /app
WORKDIR /app
ENV NODE_ENV=production \
    PEREGRINE_RESPONDER_HOST=0.0.0.0 \
    PEREGRINE_RESPONDER_PORT=2804 \
    PEREGRINE_HEALTH_URL=http://127.0.0.1:2804/healthz
USER 65532:65532
EXPOSE 2804
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch(process.env.PEREGRINE_HEALTH_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/node", "--import", "tsx", "/app/apps/responder/src/serve.ts"]
