#!/usr/bin/env bash
# Builds the eBPF probe, its libbpf skeleton, the Node-API addon and the
# syscall test helper into native/build/. Called by scripts/bootstrap.sh (so
# by `npm test`); skips in well under a second when nothing changed.
# PEREGRINE_NATIVE_FORCE=1 rebuilds anyway.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
out="$here/build"
gen="$root/.cache/native/gen"
log() { printf '[native] %s\n' "$*" >&2; }
die() { printf '[native] error: %s\n' "$*" >&2; exit 1; }

need_tool() { # tool debian-package
  command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install it with: apt-get install -y $2"
}
include_dir="${PEREGRINE_INCLUDE_DIR:-/usr/include}" # overridable so the missing-header message can be tested
need_header() { # header debian-package
  [ -f "$include_dir/$1" ] || die "header <$1> not found; install it with: apt-get install -y $2"
}
need_tool clang clang
need_tool bpftool bpftool
need_tool llvm-strip llvm
need_tool g++ g++
need_tool make make
need_tool python3 python3
need_header bpf/libbpf.h libbpf-dev
need_header bpf/bpf_helpers.h libbpf-dev
need_header libelf.h libelf-dev
need_header zlib.h zlib1g-dev
[ -r /sys/kernel/btf/vmlinux ] || die "/sys/kernel/btf/vmlinux is missing: the kernel must be built with CONFIG_DEBUG_INFO_BTF=y (5.8+) for the CO-RE probe"

sources=("$here/bpf/probe.bpf.c" "$here/src/pg_event.h" "$here/src/addon.cc" "$here/binding.gyp" \
  "$here/test/helpers/sysc.c" "$0")
# Not the running Node's version: the addon uses Node-API only (ABI-stable), so one build serves
# Node 20 and 24 alike (CI runs the suite on both); the headers it compiled against count.
stamp_now="$( (cat "${sources[@]}"; uname -r; cat /usr/include/node/node_api.h /usr/include/node/js_native_api.h 2>/dev/null || true) | sha256sum | cut -d' ' -f1)"
stamp_file="$out/.build-stamp"
if [ "${PEREGRINE_NATIVE_FORCE:-0}" != 1 ] && [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_now" ] \
  && [ -f "$out/Release/peregrine_probe.node" ] && [ -x "$out/sysc" ]; then
  exit 0
fi

mkdir -p "$gen"
case "$(uname -m)" in
  x86_64) arch=x86 ;;
  aarch64) die "aarch64 is not supported yet (the probe reads x86_64 pt_regs)" ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac

log "generating vmlinux.h from /sys/kernel/btf/vmlinux"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$gen/vmlinux.h.tmp"
mv "$gen/vmlinux.h.tmp" "$gen/vmlinux.h"

log "compiling probe.bpf.c (clang $(clang -dumpversion))"
clang -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$arch \
  -I "$gen" -I "$here/src" -c "$here/bpf/probe.bpf.c" -o "$gen/probe.bpf.o"
llvm-strip -g "$gen/probe.bpf.o"
bpftool gen skeleton "$gen/probe.bpf.o" name pg_probe > "$gen/probe.skel.h"

log "building the Node-API addon"
gyp="$root/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp="$here/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || die "node-gyp is not installed; run npm install at the repository root"
nodedir_args=()
# Debian's nodejs ships its headers in /usr/include/node; use them instead of downloading.
if [ -f /usr/include/node/node_api.h ] && [ -f /usr/include/node/common.gypi ]; then
  nodedir_args=(--nodedir=/usr)
fi
(cd "$here" && node "$gyp" rebuild "${nodedir_args[@]}" --silent >"$out.gyp.log" 2>&1) || {
  cat "$out.gyp.log" >&2 || true
  die "node-gyp failed (output above); Node headers come from /usr/include/node (Debian package libnode-dev) or a node-gyp download"
}
mv "$out.gyp.log" "$out/gyp.log"

log "building the syscall test helper"
cc_bin=gcc; command -v gcc >/dev/null || cc_bin=clang
$cc_bin -O2 -Wall -o "$out/sysc" "$here/test/helpers/sysc.c"

echo "$stamp_now" > "$stamp_file"
log "built native/build/Release/peregrine_probe.node"
