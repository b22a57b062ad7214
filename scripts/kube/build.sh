#!/usr/bin/env bash
# Builds the Kubernetes test cluster's binaries from Go modules into OUT_DIR:
#   etcd (3.6.16) from ./etcd, and kube-apiserver, kubelet, kube-scheduler,
#   kube-controller-manager, kubectl (v1.36.3) from ./kubernetes.
# Usage: bash scripts/kube/build.sh OUT_DIR
#
# Why wrapper modules: etcd's and k8s.io/kubernetes's own go.mod files carry
# `replace … => ./…` lines, so `go install pkg@version` refuses them. Each folder
# here is a module whose go.mod requires the upstream one as a `tool` and maps
# every staging module to its published v0.36.3 (scripts/kube/regenerate.sh
# writes them). Go's module and build caches stay where Go puts them; the
# caller (test/support/kube-binaries.ts) caches OUT_DIR keyed by the versions.
# Cold: ≈ 5–6 min on 2 cores, linker peak ≈ 2 GB RSS, ≈ 4–5 GB of Go caches.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
kube_version="$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$here/kubernetes/go.mod")"
[ -n "$kube_version" ] || { echo "build.sh: no k8s.io/kubernetes line in $here/kubernetes/go.mod" >&2; exit 1; }
kube_minor="$(echo "$kube_version" | cut -d. -f2)"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)

# One `go build` for all of them: shared packages compile once.
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
(cd "$here/kubernetes" && go build -trimpath -ldflags "$ldflags" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kubelet \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl)
for b in etcd kube-apiserver kubelet kube-scheduler kube-controller-manager kubectl; do
  [ -x "$out/$b" ] || { echo "build.sh: $out/$b was not built" >&2; exit 1; }
done
