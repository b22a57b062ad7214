# Peregrine sensor: the eBPF probe + rules engine of one node (`peregrine sensor`, docs/sensor.md).
# Build from the repository root:  docker build -f deploy/docker/sensor.Dockerfile -t peregrine/sensor .
#
# Stage 1 builds the CO-RE probe and its Node-API addon with Debian's clang/libbpf and installs
# the production dependencies of the CLI; stage 2 is distroless (glibc + libstdc++, no shell)
# with Node 24, libbpf/libelf/zlib and the app.
#
# Privileges (deploy/docker/README.md, "Sensor privileges"): the process runs as root inside the
# container because the kernel checks capabilities of the caller; grant it only
#   BPF        load the probe's programs and maps (bpf(2)),
#   PERFMON    attach tracing (tp_btf) programs and read kernel memory through the helpers,
#   SYS_PTRACE read other processes' /proc/<pid>/{exe,cwd,root,fd} to seed the state tables,
#   DAC_READ_SEARCH  open /proc entries of processes owned by other users,
# plus SYS_ADMIN only on kernels older than 5.8 (no CAP_BPF/CAP_PERFMON: SYS_ADMIN is what they
# check) or when the engine's seccomp profile only allows bpf(2) with SYS_ADMIN (Docker < 23).
# Host PID namespace; read-only mounts of /sys/kernel/btf, /sys/kernel/tracing, the runtime
# sockets for container metadata. No --privileged needed on engines that know BPF/PERFMON.
FROM node:24-bookworm-slim AS build
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ python3; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# node-gyp takes Node's headers from the image (/usr/local/include/node) instead of downloading them.
ENV npm_config_nodedir=/usr/local
RUN npm ci --omit=dev --workspace=@peregrine/cli --include-workspace-root=false --ignore-scripts --no-audit --no-fund
# vmlinux.h is generated from the build machine's BTF; CO-RE relocates the probe on other kernels.
RUN bash native/scripts/build.sh
# The sources are TypeScript run through tsx (no build step in this repository): add it alone.
RUN npm install --prefix /opt/tsx --no-audit --no-fund --no-save tsx@4.23.15 \
 && cp -a /opt/tsx/node_modules/. node_modules/
# Only what runs: no build outputs of the addon but the .node, no type declarations, maps or docs.
RUN set -eux; \
    mv native/build/Release/peregrine_probe.node /tmp/; rm -rf native/build .cache; \
    mkdir -p native/build/Release; mv /tmp/peregrine_probe.node native/build/Release/; \
    rm -rf apps/responder test bench docs node_modules/node-gyp node_modules/node-addon-api node_modules/typescript; \
    find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' -o -name '*.md' -o -name '*.markdown' \) -delete; \
    mkdir -p /out/lib; \
    cp -L /usr/lib/x86_64-linux-gnu/libbpf.so.1 /usr/lib/x86_64-linux-gnu/libelf.so.1 /usr/lib/x86_64-linux-gnu/libz.so.1 /out/lib/

FROM gcr.io/distroless/cc-debian12
LABEL org.opencontainers.image.title="peregrine-sensor" \
      org.opencontainers.image.description="Peregrine eBPF sensor: Falco-compatible rules on one node" \
      org.opencontainers.image.source="https://github.com/peregrine/peregrine" \
      io.peregrine.component="sensor" \
      io.peregrine.capabilities="BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH (SYS_ADMIN on kernels < 5.8)"
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /out/lib/ /usr/lib/x86_64-linux-gnu/
COPY --from=build /app /app
WORKDIR /app
ENV NODE_ENV=production \
    PEREGRINE_HEALTH_URL=http://127.0.0.1:8765/healthz
# No shell in the image: the health check is Node itself (200 while the probe runs).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/node", "-e", "fetch(process.env.PEREGRINE_HEALTH_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Root is required by the kernel for BPF (capabilities are granted to root only; see above).
USER 0
ENTRYPOINT ["/usr/local/bin/node", "/app/apps/cli/bin/peregrine.js", "sensor"]
CMD ["--output", "json"]
