#!/usr/bin/env bash
# Builds helm (v4.3.2) from the Go module proxy into OUT_DIR/helm, through the wrapper
# module in ./helm (its go.mod requires helm.sh/helm/v4 as a `tool`, its go.sum pins every
# dependency), the same pattern as ./build.sh for the Kubernetes binaries.
# Usage: bash scripts/kube/build-helm.sh OUT_DIR
# helm's own go.mod has no replace lines, so `go install …@v4.3.2` would also work; the
# wrapper keeps the dependency set reviewed in git and the build offline once modules are cached.
# The caller (test/support/helm.ts) caches OUT_DIR keyed by the version and these inputs.
# Cold: ≈ 2 min on 2 cores (≈ 100 MB binary).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build-helm.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
helm_version="$(awk '$1 == "helm.sh/helm/v4" {print $2}' "$here/helm/go.mod")"
[ -n "$helm_version" ] || { echo "build-helm.sh: no helm.sh/helm/v4 line in $here/helm/go.mod" >&2; exit 1; }
export CGO_ENABLED=0 GOFLAGS=-mod=mod
# `helm version` reports the release, as an official binary does.
ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
(cd "$here/helm" && go build -trimpath -ldflags "$ldflags" -o "$out/helm" helm.sh/helm/v4/cmd/helm)
[ -x "$out/helm" ] || { echo "build-helm.sh: $out/helm was not built" >&2; exit 1; }
