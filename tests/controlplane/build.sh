#!/usr/bin/env bash
# Build the real upstream control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubeadm, kubectl), helm (v3) and helm4 (v4) from the Go module proxy, once per
# version set; and the kubelet, for the harness's real node (`up --node`), into a folder of its own.
#
# Binaries land in a cache folder outside the repository, keyed by the Go toolchain and a hash
# of the wrapper modules' go.mod/go.sum (which pin every version), so a machine that has
# built once reuses the binaries and a version bump builds into a fresh folder.
# Prints the bin folder on stdout; everything else goes to stderr.
#
#   tests/controlplane/build.sh            build what is missing, print the bin folder
#   tests/controlplane/build.sh --print    print the bin folder without building
#   tests/controlplane/build.sh kubelet [--print]   the same for the kubelet's folder
#
# The kubelet has its own cache folder, keyed like the control plane's (Kubernetes version, Go
# toolchain, a hash of the kubernetes wrapper module and of its own recipe), so adding it did
# not invalidate an existing control-plane build. The plain form builds both.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mods="$here/go"
# -buildvcs=false: the wrapper modules live inside this git repository; stamping its state
# into the binaries would make them differ per commit for no benefit.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false"

# The version a wrapper module pins for one dependency (tidy may move it into a require block).
pinned() { awk -v m="$2" '$1=="require" {$1=""; $0=$0} $1==m && $2 ~ /^v/ {print $2; exit}' "$mods/$1/go.mod"; }
k8s_version=$(pinned kubernetes k8s.io/kubernetes)
etcd_version=$(pinned etcd go.etcd.io/etcd/server/v3)
helm_version=$(pinned helm helm.sh/helm/v3)
helm4_version=$(pinned helm4 helm.sh/helm/v4)
for v in "$k8s_version" "$etcd_version" "$helm_version" "$helm4_version"; do
  [[ -n "$v" ]] || { echo "build.sh: cannot read a pinned version from $mods/*/go.mod" >&2; exit 1; }
done
go_version=$(go env GOVERSION)
# Bump recipe when the flags below change in a way that changes the binaries.
recipe=2  # 2: helm4 added
digest=$( (echo "$recipe"; cat "$mods"/*/go.mod "$mods"/*/go.sum) | sha256sum | cut -c1-12)
key="k8s-$k8s_version-etcd-$etcd_version-helm-$helm_version-helm4-$helm4_version-$go_version-$digest"
cache_root=${KUBE_PREFLIGHT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-preflight}
bin="$cache_root/controlplane/$key"
# Bump kubelet_recipe when the kubelet's build changes.
kubelet_recipe=1
kubelet_digest=$( (echo "$kubelet_recipe"; cat "$mods/kubernetes/go.mod" "$mods/kubernetes/go.sum") | sha256sum | cut -c1-12)
kubelet_bin="$cache_root/kubelet/kubelet-$k8s_version-$go_version-$kubelet_digest"

log() { printf 'build.sh: %s\n' "$*" >&2; }

# Upstream's hack/lib/version.sh stamps both version packages; kubeadm parses its own version
# when gitMajor is set, so gitVersion, gitMajor and gitMinor are set together.
minor=${k8s_version#v1.}; minor=${minor%%.*}
k8s_ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ld+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  k8s_ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done

# The kubelet, from the same wrapper module, in a scratch copy of it: k8s.io/kubernetes/cmd/kubelet
# needs two modules the control plane does not (k8s.io/cri-streaming, otelrestful), and go.sum
# lines for them in the repository would change the control-plane key above.
build_kubelet() {
  [[ -f "$kubelet_bin/.complete" ]] && return 0
  local stage="$kubelet_bin.partial.$$" t0=$(date +%s)
  rm -rf "$stage"; mkdir -p "$stage/mod"
  cp "$mods/kubernetes/go.mod" "$mods/kubernetes/go.sum" "$stage/mod/"
  log "building kubelet $k8s_version from the kubernetes wrapper module (about 40 s with a warm Go cache, 8 min cold)"
  if ! (cd "$stage/mod" && go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$k8s_ld" -o "$stage/kubelet" \
        k8s.io/kubernetes/cmd/kubelet); then
    rm -rf "$stage"; return 1
  fi
  rm -rf "$stage/mod"
  echo "kubelet $(( $(date +%s) - t0 ))s $(stat -c %s "$stage/kubelet")" > "$stage/BUILD-INFO"
  touch "$stage/.complete"
  mkdir -p "$(dirname "$kubelet_bin")"
  mv -T "$stage" "$kubelet_bin" 2>/dev/null || { log "another build already installed $kubelet_bin"; rm -rf "$stage"; }
  log "done: $(cat "$kubelet_bin/BUILD-INFO")"
}

if [[ "${1:-}" == "kubelet" ]]; then
  [[ "${2:-}" == "--print" ]] || build_kubelet
  echo "$kubelet_bin"
  exit 0
fi
if [[ "${1:-}" == "--print" ]]; then
  echo "$bin"
  exit 0
fi
if [[ -f "$bin/.complete" ]]; then
  build_kubelet
  echo "$bin"
  exit 0
fi

staging="$bin.partial.$$"
rm -rf "$staging"
mkdir -p "$staging"
trap 'rm -rf "$staging"' EXIT
started=$(date +%s)

helm_ld="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
helm_ld+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor"
# Helm 4 has no k8sVersion ldflags: its default .Capabilities.KubeVersion comes from the
# client-go module version (helm/helm v4 pkg/chart/common/capabilities.go makeDefaultCapabilities).
helm4_ld="-s -w -X helm.sh/helm/v4/internal/version.version=$helm4_version"
etcd_ld="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd_version"

# Peak RSS of each step is recorded when GNU time is available (it is not on every machine).
timed() {
  local name=$1; shift
  local t0=$(date +%s)
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -f "%M" -o "$staging/.rss-$name" "$@"
  else
    "$@"
  fi
  echo "$name $(( $(date +%s) - t0 ))s $(cat "$staging/.rss-$name" 2>/dev/null || echo '?')KiB" >> "$staging/.build-log"
}

log "cold build of the test control plane, once per version set (measured on 2 cores, empty Go caches: about 12 min in all, 2.6 GB peak memory); later runs reuse $bin"
log "building etcd $etcd_version (about 1 min cold)"
(cd "$mods/etcd" && timed etcd go build -trimpath -ldflags "$etcd_ld" -o "$staging/etcd" go.etcd.io/etcd/server/v3)
log "building kubernetes $k8s_version: kube-apiserver, kube-controller-manager, kube-scheduler, kubeadm, kubectl (about 7.5 min cold, the longest step)"
(cd "$mods/kubernetes" && timed kubernetes go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$k8s_ld" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl)
log "building helm $helm_version (about 1.5 min cold)"
(cd "$mods/helm" && timed helm go build -trimpath -ldflags "$helm_ld" -o "$staging/helm" helm.sh/helm/v3/cmd/helm)
log "building helm4 $helm4_version (about 2.5 min cold)"
(cd "$mods/helm4" && timed helm4 go build -trimpath -ldflags "$helm4_ld" -o "$staging/helm4" helm.sh/helm/v4/cmd/helm)

{
  echo "key=$key"
  echo "total_seconds=$(( $(date +%s) - started ))"
  cat "$staging/.build-log"
  (cd "$staging" && ls -l etcd kube-* kubeadm kubectl helm helm4 | awk '{print $NF, $5}')
} > "$staging/BUILD-INFO"
rm -f "$staging"/.rss-* "$staging/.build-log"
touch "$staging/.complete"
# Another build may have finished meanwhile; either result is the same version set.
mkdir -p "$(dirname "$bin")"
if ! mv -T "$staging" "$bin" 2>/dev/null; then
  log "another build already installed $bin"
fi
trap - EXIT
rm -rf "$staging"
log "done: $(tr '\n' ' ' < "$bin/BUILD-INFO")"
build_kubelet
echo "$bin"
