#!/usr/bin/env bash
# Makes a fresh clone ready to run: Debian packages, npm dependencies, the
# native addon. Idempotent and quick when everything is already in place, so
# both Quickstart commands call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# 1. Debian packages.
mapfile -t wanted < <(grep -vE '^\s*(#|$)' scripts/apt-packages.txt)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]}"
    log "install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. npm dependencies (only when the lockfile changed since the last install).
stamp=node_modules/.peregrine-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
  cp package-lock.json "$stamp"
fi

# 3. The native addon (its own script decides whether a rebuild is needed).
if [ -f native/scripts/build.sh ]; then
  bash native/scripts/build.sh
fi
