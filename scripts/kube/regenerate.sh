#!/usr/bin/env bash
# Rewrites the wrapper modules (./etcd/go.mod, ./kubernetes/go.mod and their go.sum) for
# other versions. Not part of the build: the committed go.mod/go.sum are what build.sh uses.
# Usage: bash scripts/kube/regenerate.sh [KUBE_VERSION] [ETCD_VERSION]
# Then change kubeVersion/etcdVersion in test/support/kube-binaries.ts to match.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kube="${1:-v1.36.3}"
etcd="${2:-v3.6.16}"
staging="v0.${kube#v1.}" # k8s.io/kubernetes v1.X.Y publishes its staging modules as v0.X.Y
tools=(kube-apiserver kubelet kube-scheduler kube-controller-manager kubectl)

cd "$here/kubernetes"
rm -f go.mod go.sum
go mod init local/peregrine-kube
upstream_mod="$(go mod download -json "k8s.io/kubernetes@$kube" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
go mod edit -go="$(awk '$1 == "go" {print $2; exit}' "$upstream_mod")"
# Every `replace k8s.io/x => ./staging/...` of upstream becomes the published module at $staging.
awk '$3 ~ /^\.\/staging/ {print $1}' "$upstream_mod" | sort -u | while read -r module; do
  go mod edit -replace="$module=$module@$staging"
done
for tool in "${tools[@]}"; do go get -tool "k8s.io/kubernetes/cmd/$tool@$kube"; done

cd "$here/etcd"
rm -f go.mod go.sum
go mod init local/peregrine-etcd
go get -tool "go.etcd.io/etcd/server/v3@$etcd"
go mod edit -go=1.26.0
go mod tidy
