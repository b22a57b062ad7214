#!/usr/bin/env bash
# Part (c)'s workload: a build that runs under the sensor until killed.
# Each round compiles the repository's native sources in a scratch folder
# (probe.bpf.c with clang -target bpf against the generated vmlinux.h, the
# Node-API addon with g++, the sysc helper with cc: make -B, two jobs) and
# typechecks @peregrine/rules with tsc: thousands of short processes, file
# opens, execs and exits, as a CI node's build does.
#   build-loop.sh SCRATCH_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
scratch="$1"
mkdir -p "$scratch"
cp "$root/native/bpf/probe.bpf.c" "$root/native/src/addon.cc" "$root/native/src/pg_event.h" "$root/native/test/helpers/sysc.c" "$scratch/"
gen="$root/.cache/native/gen"
[ -f "$gen/vmlinux.h" ] && [ -f "$gen/probe.skel.h" ] || { echo "build-loop: $gen/vmlinux.h missing: run bash native/scripts/build.sh" >&2; exit 1; }
cat > "$scratch/Makefile" <<MK
all: probe.bpf.o addon.o sysc
probe.bpf.o: probe.bpf.c
	clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I $gen -I . -c probe.bpf.c -o probe.bpf.o
addon.o: addon.cc
	g++ -O2 -std=c++17 -fPIC -I /usr/include/node -I $root/node_modules/node-addon-api -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -I $gen -I . -c addon.cc -o addon.o
sysc: sysc.c
	cc -O2 -o sysc sysc.c
MK
cat > "$scratch/tsconfig.json" <<TS
{ "extends": "$root/tsconfig.json", "compilerOptions": { "noEmit": true, "incremental": false, "typeRoots": ["$root/node_modules/@types"] }, "include": [], "files": ["$root/packages/rules/src/index.ts"] }
TS
rounds=0
while :; do
  make -s -B -j2 -C "$scratch" >/dev/null 2>"$scratch/make.err" || { cat "$scratch/make.err" >&2; exit 1; }
  "$root/node_modules/.bin/tsc" -p "$scratch/tsconfig.json" >/dev/null || { echo "build-loop: tsc failed" >&2; exit 1; }
  rounds=$((rounds + 1))
  echo "round $rounds" > "$scratch/rounds"
done
