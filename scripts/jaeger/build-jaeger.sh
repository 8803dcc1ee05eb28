#!/usr/bin/env bash
# Builds (or reuses) the pinned Jaeger all-in-one binary into <repo>/.tools/bin/jaeger (git-ignored),
# from the Go module proxy like scripts/opa/build-opa.sh builds opa. The trace tests start it with
# in-memory storage, send Sluice's spans to its OTLP/HTTP receiver and read them back through its
# query API. (github.com/jaegertracing/jaeger/cmd/jaeger at v1.x is Jaeger v2, built on the
# OpenTelemetry Collector: one binary, a config file names receivers, storage and the query UI.)
#
#   1. .tools/bin/jaeger was built from the pinned module version -> nothing to do
#   2. ${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}/jaeger-<ver>/jaeger exists -> copied in
#   3. otherwise: built from the wrapper module tools/jaeger (`go install …/cmd/jaeger@<ver>` refuses
#      the module: its go.mod has a replace directive, which only a main module may carry; the
#      wrapper copies it and pins Jaeger's whole module graph in its go.sum) into that cache
#
# Usage: bash scripts/jaeger/build-jaeger.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
mod_dir="$repo/tools/jaeger"
# The version is the one the wrapper module requires (change it with `go get -tool …@<ver>` there).
JAEGER_VERSION="$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2 }' "$mod_dir/go.mod")"
[[ -n "$JAEGER_VERSION" ]] || { echo "build-jaeger: no jaeger version in $mod_dir/go.mod" >&2; exit 1; }
out="$repo/.tools/bin"
cache_root="${SLUICE_TOOLS_CACHE:-$HOME/.cache/sluice-tools}"
cdir="$cache_root/jaeger-$JAEGER_VERSION"
log() { echo "build-jaeger: $*" >&2; }
start="$(date +%s)"
mkdir -p "$out" "$cdir"

# The binary's own version string is only set by Jaeger's Makefile (ldflags); the module version
# the Go linker records in the binary (`go version -m`) is the reliable pin check.
is_pinned() {
  [[ -x "$1" ]] && go version -m "$1" 2>/dev/null |
    grep -Eq "^[[:space:]]+(mod|dep)[[:space:]]+github.com/jaegertracing/jaeger[[:space:]]+${JAEGER_VERSION}([[:space:]]|$)"
}

command -v go >/dev/null || [[ ! -x /usr/local/go/bin/go ]] || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || { log "'go' not found on PATH"; exit 1; }
if is_pinned "$out/jaeger"; then log "up to date: $out/jaeger ($JAEGER_VERSION)"; exit 0; fi
(
  if command -v flock >/dev/null; then flock 9; fi
  if ! is_pinned "$cdir/jaeger"; then
    export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}"
    log "building jaeger $JAEGER_VERSION into $cdir (a large module graph: many minutes the first time) ..."
    rm -rf "$cdir/bin.tmp"; mkdir -p "$cdir/bin.tmp"
    ( cd "$mod_dir" && go build -trimpath -mod=readonly -ldflags "-s -w" -o "$cdir/bin.tmp/jaeger" \
        github.com/jaegertracing/jaeger/cmd/jaeger )
    mv -f "$cdir/bin.tmp/jaeger" "$cdir/jaeger"; rm -rf "$cdir/bin.tmp"
  fi
) 9>"$cdir/.lock"
cp "$cdir/jaeger" "$out/.jaeger.tmp.$$" && chmod +x "$out/.jaeger.tmp.$$" && mv -f "$out/.jaeger.tmp.$$" "$out/jaeger"
is_pinned "$out/jaeger" || { log "$out/jaeger is not $JAEGER_VERSION"; exit 1; }
log "ready at $out/jaeger ($JAEGER_VERSION) in $(( $(date +%s) - start ))s"
