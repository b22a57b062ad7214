# The lab's Slack stand-in (deploy/lab/receiver/server.mjs): shows what the hub's Slack
# destination posted, on / (HTML) and /messages (JSON). Build from the repository root:
#   docker build -f deploy/docker/receiver.Dockerfile -t peregrine/lab-receiver .
FROM node:24-bookworm-slim AS node

FROM gcr.io/distroless/cc-debian12
LABEL org.opencontainers.image.title="peregrine-lab-receiver" \
      org.opencontainers.image.description="Peregrine lab: a Slack stand-in that shows the messages it received" \
      org.opencontainers.image.source="https://github.com/peregrine/peregrine" \
      io.peregrine.component="lab-receiver"
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY deploy/lab/receiver/server.mjs /app/server.mjs
ENV RECEIVER_PORT=2890 \
    PEREGRINE_HEALTH_URL=http://127.0.0.1:2890/healthz
USER 65532:65532
EXPOSE 2890
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch(process.env.PEREGRINE_HEALTH_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/node", "/app/server.mjs"]
