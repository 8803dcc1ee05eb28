#!/usr/bin/env bash
# Builds (or reuses) the pinned cosign CLI into <repo>/.tools/bin/cosign (git-ignored), from the Go
# module proxy like scripts/docker/build-trivy.sh builds trivy. The signature-gate test signs the
# local registry's images with it (`cosign generate-key-pair`, `cosign sign --key`): the signatures
# the gate verifies are the real tool's, stored in the registry as cosign stores them.
#
#   1. .tools/bin/cosign already reports the pinned version -> nothing to do
#   2. ${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}/cosign-<ver>/cosign exists -> copied in
#   3. otherwise: `go install github.com/sigstore/cosign/v2/cmd/cosign@<ver>` into that cache
#
# Usage: bash scripts/docker/build-cosign.sh
set -euo pipefail

COSIGN_VERSION="${COSIGN_VERSION:-v2.6.5}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
out="$repo/.tools/bin"
cache_root="${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}"
cdir="$cache_root/cosign-$COSIGN_VERSION"
log() { echo "build-cosign: $*" >&2; }
start="$(date +%s)"
mkdir -p "$out" "$cdir"

# `cosign version` prints "GitVersion:    v2.6.5" (the -X below stamps it; an unstamped build says
# "devel", and would be rebuilt every time).
is_pinned() {
  [[ -x "$1" ]] && "$1" version 2>/dev/null | awk '$1=="GitVersion:"{print $2; exit}' | grep -qx "$COSIGN_VERSION"
}

if is_pinned "$out/cosign"; then log "up to date: $out/cosign ($COSIGN_VERSION)"; exit 0; fi
(
  if command -v flock >/dev/null; then flock 9; fi
  if ! is_pinned "$cdir/cosign"; then
    command -v go >/dev/null || { log "'go' not found on PATH"; exit 1; }
    export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}"
    log "building cosign $COSIGN_VERSION into $cdir (a few minutes the first time) ..."
    # Outside any module, so only cosign's own go.mod matters.
    work="$(mktemp -d)"
    rm -rf "$cdir/bin.tmp"; mkdir -p "$cdir/bin.tmp"
    ( cd "$work" && GOBIN="$cdir/bin.tmp" go install -trimpath \
        -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=${COSIGN_VERSION}" \
        "github.com/sigstore/cosign/v2/cmd/cosign@${COSIGN_VERSION}" )
    rm -rf "$work"
    mv -f "$cdir/bin.tmp/cosign" "$cdir/cosign"; rm -rf "$cdir/bin.tmp"
  fi
) 9>"$cdir/.lock"
cp "$cdir/cosign" "$out/.cosign.tmp.$$" && chmod +x "$out/.cosign.tmp.$$" && mv -f "$out/.cosign.tmp.$$" "$out/cosign"
"$out/cosign" version 2>/dev/null | awk '$1=="GitVersion:"' >&2
log "ready at $out/cosign in $(( $(date +%s) - start ))s"
