#!/usr/bin/env bash
# Builds (or reuses) the pinned Trivy CLI into <repo>/.tools/bin/trivy (git-ignored), from the Go
# module proxy like scripts/opa/build-opa.sh builds opa. The digest-binding test scans the local
# registry's images with it (`--scanners secret`: no vulnerability database is downloaded, and the
# report still carries the image's Metadata.RepoDigests and ImageID).
#
#   1. .tools/bin/trivy already reports the pinned version -> nothing to do
#   2. ${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}/trivy-<ver>/trivy exists -> copied in
#   3. otherwise: `go install github.com/aquasecurity/trivy/cmd/trivy@<ver>` into that cache
#
# Usage: bash scripts/docker/build-trivy.sh
set -euo pipefail

TRIVY_VERSION="${TRIVY_VERSION:-v0.74.0}"
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
out="$repo/.tools/bin"
cache_root="${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}"
cdir="$cache_root/trivy-$TRIVY_VERSION"
log() { echo "build-trivy: $*" >&2; }
start="$(date +%s)"
mkdir -p "$out" "$cdir"

is_pinned() { [[ -x "$1" ]] && "$1" --version 2>/dev/null | grep -q "^Version: ${TRIVY_VERSION#v}$"; }

if is_pinned "$out/trivy"; then log "up to date: $out/trivy ($TRIVY_VERSION)"; exit 0; fi
(
  if command -v flock >/dev/null; then flock 9; fi
  if ! is_pinned "$cdir/trivy"; then
    command -v go >/dev/null || { log "'go' not found on PATH"; exit 1; }
    # Trivy uses encoding/json/v2, behind GOEXPERIMENT=jsonv2 in Go 1.25 and 1.26.
    export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}" GOEXPERIMENT=jsonv2
    log "building trivy $TRIVY_VERSION into $cdir (several minutes the first time) ..."
    work="$(mktemp -d)"
    rm -rf "$cdir/bin.tmp"; mkdir -p "$cdir/bin.tmp"
    ( cd "$work" && GOBIN="$cdir/bin.tmp" go install -trimpath \
        -ldflags "-s -w -X github.com/aquasecurity/trivy/pkg/version/app.ver=${TRIVY_VERSION#v}" \
        "github.com/aquasecurity/trivy/cmd/trivy@${TRIVY_VERSION}" )
    rm -rf "$work"
    mv -f "$cdir/bin.tmp/trivy" "$cdir/trivy"; rm -rf "$cdir/bin.tmp"
  fi
) 9>"$cdir/.lock"
cp "$cdir/trivy" "$out/.trivy.tmp.$$" && chmod +x "$out/.trivy.tmp.$$" && mv -f "$out/.trivy.tmp.$$" "$out/trivy"
"$out/trivy" --version | head -1 >&2
log "ready at $out/trivy in $(( $(date +%s) - start ))s"
