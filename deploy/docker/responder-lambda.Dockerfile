# Peregrine responder, Lambda form, behind the AWS Lambda Runtime Interface Emulator: the
# same invoke API as AWS Lambda (POST /2015-03-31/functions/function/invocations on 8080), so
# the hub's Lambda destination (or `aws lambda invoke --endpoint-url`) can call it locally.
# Build from the repository root:
#   docker build -f deploy/docker/responder-lambda.Dockerfile -t peregrine/responder-lambda .
# In AWS, deploy the zip of `npm run -w apps/responder bundle` on the nodejs runtime instead.
# Go 1.26: the emulator's go.mod asks for go >= 1.26.6, and the official golang images set
# GOTOOLCHAIN=local (an older Go refuses to build it rather than fetching a newer toolchain).
FROM golang:1.26-bookworm AS emulator
# The emulator's v1.x tags are not Go semver: the module proxy serves this pseudo-version
# (the same one test/support/lambda.ts builds).
RUN CGO_ENABLED=0 GOBIN=/out go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

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

FROM gcr.io/distroless/cc-debian12
LABEL org.opencontainers.image.title="peregrine-responder-lambda" \
      org.opencontainers.image.description="Peregrine responder (Lambda handler) behind the Lambda Runtime Interface Emulator" \
      org.opencontainers.image.source="https://github.com/peregrine/peregrine" \
      io.peregrine.component="responder-lambda"
COPY --from=emulator /out/aws-lambda-rie /usr/local/bin/aws-lambda-rie
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /app /app
WORKDIR /app
ENV NODE_ENV=production
USER 65532:65532
EXPOSE 8080
# The emulator has no health endpoint: healthy once it accepts connections on
# PEREGRINE_HEALTH_PORT (set it when the emulator's address changes, as the lab does).
ENV PEREGRINE_HEALTH_PORT=8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "require('node:net').connect(Number(process.env.PEREGRINE_HEALTH_PORT),'127.0.0.1').on('connect',()=>process.exit(0)).on('error',()=>process.exit(1))"]
# The emulator runs the custom runtime loop of test/servers/lambda (Runtime API 2018-06-01),
# which loads the handler through tsx.
ENTRYPOINT ["/usr/local/bin/aws-lambda-rie", "--runtime-interface-emulator-address", "0.0.0.0:8080", \
            "/usr/local/bin/node", "/app/test/servers/lambda/runtime.mjs", "/app/apps/responder/src/handler.ts#handler"]
