#!/usr/bin/env bash
# Builds (or reuses) the pinned opa CLI into <repo>/.tools/bin/opa (git-ignored).
#
#   1. .tools/bin/opa already reports the pinned version       -> nothing to do
#   2. an `opa` on PATH reports the pinned version              -> copied into .tools/bin
#   3. ${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}/opa-<ver>/opa exists -> copied in
#   4. otherwise: `go install github.com/open-policy-agent/opa@<ver>` (Go module proxy,
#      version stamped via -ldflags) into the outside cache, then copied in.
# SLUICE_TOOLS_CACHE=off builds straight into .tools/bin (the Go build cache still applies).
# The pinned version lives in scripts/opa/opa.env.
#
# Usage: bash scripts/opa/build-opa.sh [--force]
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
# shellcheck source=opa.env
source "$script_dir/opa.env"

force=0
[[ "${1:-}" == "--force" ]] && force=1

out="$repo/.tools/bin"
mkdir -p "$out"
cache_root="${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}"
[[ "$cache_root" == "off" || "$cache_root" == "0" || "$cache_root" == "false" ]] && cache_root=""

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "build-opa: $*" >&2; }
start="$(now)"

# `opa version` prints "Version: 1.22.2" (no leading v).
is_pinned() { # path
  [[ -x "$1" ]] || return 1
  [[ "$("$1" version 2>/dev/null | awk -F': ' '$1=="Version"{print $2; exit}')" == "${OPA_VERSION#v}" ]]
}

install_from() { # src
  local tmp="$out/.opa.tmp.$$"
  cp "$1" "$tmp" && chmod +x "$tmp" && mv -f "$tmp" "$out/opa"
}

if [[ $force == 0 ]]; then
  if is_pinned "$out/opa"; then
    log "up to date: $out/opa ($OPA_VERSION)"; exit 0
  fi
  if path_opa="$(command -v opa 2>/dev/null)" && [[ "$path_opa" != "$out/opa" ]] && is_pinned "$path_opa"; then
    install_from "$path_opa"; log "reused $path_opa ($OPA_VERSION) in $(elapsed "$start")"; exit 0
  fi
fi

command -v go >/dev/null || { log "'go' not found on PATH (need Go >= 1.26) and no opa $OPA_VERSION available"; exit 1; }
export GOTOOLCHAIN=local          # never download a Go toolchain
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
ldflags="-s -w -X github.com/open-policy-agent/opa/v1/version.Version=${OPA_VERSION#v}"

build() { # dest dir
  # Run outside any module so only opa's own go.mod (no replace directives) matters.
  local work; work="$(mktemp -d)"
  ( cd "$work" && GOBIN="$1" go install -trimpath -ldflags "$ldflags" \
      "github.com/open-policy-agent/opa@${OPA_VERSION}" )
  rm -rf "$work"
}

if [[ -z "$cache_root" ]]; then
  tmpd="$(mktemp -d "$out/.build-opa.XXXXXX")"
  log "building opa $OPA_VERSION (outside cache disabled) ..."
  build "$tmpd"
  mv -f "$tmpd/opa" "$out/opa"; rm -rf "$tmpd"
else
  cdir="$cache_root/opa-$OPA_VERSION"
  mkdir -p "$cdir"
  (
    # Serialise concurrent runs (two CI jobs on one machine).
    if command -v flock >/dev/null; then flock 9; fi
    if [[ $force == 1 ]] || ! is_pinned "$cdir/opa"; then
      log "building opa $OPA_VERSION into $cdir ..."
      rm -rf "$cdir/bin.tmp"; mkdir -p "$cdir/bin.tmp"
      build "$cdir/bin.tmp"
      is_pinned "$cdir/bin.tmp/opa" || { log "built binary does not report version $OPA_VERSION"; exit 1; }
      mv -f "$cdir/bin.tmp/opa" "$cdir/opa"; rm -rf "$cdir/bin.tmp"
      log "built in $(elapsed "$start")"
    else
      log "reusing $cdir/opa"
    fi
  ) 9>"$cdir/.lock"
  install_from "$cdir/opa"
fi

is_pinned "$out/opa" || { log "$out/opa does not report version $OPA_VERSION"; exit 1; }
log "opa $OPA_VERSION ready at $out/opa in $(elapsed "$start")"
