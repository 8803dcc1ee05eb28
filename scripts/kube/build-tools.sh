#!/usr/bin/env bash
# Builds (or reuses) the binaries of the local Kubernetes test control plane into <repo>/.tools/bin:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler  (wrapper module tools/kube)
#   kwok, kwokctl                                                  (go install sigs.k8s.io/kwok/cmd/...@version)
# Everything comes from the Go module proxy; pinned versions live in tools/kube/versions.env.
#
# Finished binaries are cached outside the clone, keyed by tool + version + Go version (+ a hash of
# the wrapper module), in ${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}/<key>/bin, and copied into
# .tools/bin. A build is skipped when its output already exists. SLUICE_TOOLS_CACHE=off disables
# the outside cache (build straight into .tools/bin; the Go build cache still applies).
#
# Usage: bash scripts/kube/build-tools.sh [--force]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
mod_dir="$repo/tools/kube"
# shellcheck source=tools/kube/versions.env
source "$mod_dir/versions.env"

force=0
[[ "${1:-}" == "--force" ]] && force=1

out="$repo/.tools/bin"
mkdir -p "$out"

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
export GOTOOLCHAIN=local   # never download a Go toolchain
export CGO_ENABLED=0
command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { echo "build-tools: 'go' not found on PATH (need Go >= 1.26)" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "build-tools: $*" >&2; }

gover="$(go env GOVERSION)"
platform="$(go env GOOS)-$(go env GOARCH)"
cache_root="${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}"
[[ "$cache_root" == "off" || "$cache_root" == "0" || "$cache_root" == "false" ]] && cache_root=""

total_start="$(now)"

# The ldflags are part of the key, so changing them rebuilds.
kube_minor="${KUBE_VERSION#v1.}"; kube_minor="${kube_minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=${KUBE_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${kube_minor}"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
kube_ldflags+=" -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"

kube_hash="$(cat "$mod_dir/go.mod" "$mod_dir/go.sum" "$mod_dir/cmd/etcd/main.go" <(echo "$kube_ldflags") | sha256sum | cut -c1-12)"
kube_key="kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}_${gover}_${platform}_${kube_hash}"
kwok_key="kwok-${KWOK_VERSION}_${gover}_${platform}_$(echo "$kwok_ldflags" | sha256sum | cut -c1-12)"
kube_bins=(etcd kube-apiserver kube-controller-manager kube-scheduler)
kwok_bins=(kwok kwokctl)

build_kube() { # $1 = output dir
  ( cd "$mod_dir" && go build -trimpath -mod=readonly -ldflags "$kube_ldflags" -o "$1/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      ./cmd/etcd )
}
build_kwok() { # $1 = output dir
  # Run outside any module so only the pinned kwok go.mod matters.
  ( cd "$(mktemp -d)" && GOBIN="$1" go install -trimpath -ldflags "$kwok_ldflags" \
      "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}" \
      "sigs.k8s.io/kwok/cmd/kwokctl@${KWOK_VERSION}" )
}

have_all() { # dir bins...
  local d="$1"; shift
  local b; for b in "$@"; do [[ -x "$d/$b" ]] || return 1; done
}

ensure() { # group key builder bins...
  local group="$1" key="$2" builder="$3"; shift 3
  local bins=("$@") stamp="$out/.$group.key" start; start="$(now)"
  if [[ $force == 0 ]] && have_all "$out" "${bins[@]}" && [[ "$(cat "$stamp" 2>/dev/null)" == "$key" ]]; then
    log "$group: up to date in .tools/bin ($key)"
    return
  fi
  if [[ -z "$cache_root" ]]; then
    local tmp; tmp="$(mktemp -d "$out/.build-$group.XXXXXX")"
    log "$group: building $key (outside cache disabled) ..."
    "$builder" "$tmp"
    local b; for b in "${bins[@]}"; do mv -f "$tmp/$b" "$out/$b"; done
    rm -rf "$tmp"
    echo "$key" > "$stamp"
    log "$group: built in $(elapsed "$start")"
    return
  fi
  local cdir="$cache_root/$key"
  mkdir -p "$cdir"
  (
    # Serialise concurrent runs on the same key (e.g. two CI jobs on one machine).
    if command -v flock >/dev/null; then flock 9; fi
    if [[ $force == 1 ]] || ! have_all "$cdir/bin" "${bins[@]}"; then
      log "$group: building $key ..."
      rm -rf "$cdir/bin.tmp"; mkdir -p "$cdir/bin.tmp"
      "$builder" "$cdir/bin.tmp"
      have_all "$cdir/bin.tmp" "${bins[@]}" || { log "$group: build did not produce ${bins[*]}"; exit 1; }
      rm -rf "${cdir:?}/bin"; mv "$cdir/bin.tmp" "$cdir/bin"
      log "$group: built in $(elapsed "$start")"
    else
      log "$group: reusing $cdir/bin"
    fi
  ) 9>"$cdir/.lock"
  local b
  for b in "${bins[@]}"; do
    rm -f "$out/$b"
    cp -l "$cdir/bin/$b" "$out/$b" 2>/dev/null || cp "$cdir/bin/$b" "$out/$b"
  done
  echo "$key" > "$stamp"
  log "$group: installed into .tools/bin in $(elapsed "$start")"
}

log "go ${gover} ${platform}; kubernetes ${KUBE_VERSION}, etcd ${ETCD_VERSION}, kwok ${KWOK_VERSION}; cache: ${cache_root:-off}"
ensure kube "$kube_key" build_kube "${kube_bins[@]}"
ensure kwok "$kwok_key" build_kwok "${kwok_bins[@]}"

# Print the versions without `| head` (under pipefail, head closing the pipe early makes the
# writer die of SIGPIPE and the whole setup exit 141 after the binaries are already in place).
first_line() { local text; text="$("$@" 2>&1)"; echo "${text%%$'\n'*}" >&2; }
first_line "$out/kube-apiserver" --version
first_line "$out/etcd" --version
first_line "$out/kwok" --version
log "done in $(elapsed "$total_start"); binaries in $out"
