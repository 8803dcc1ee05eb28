#!/usr/bin/env bash
# The tools the suite builds from Go modules (opa, the Kubernetes control plane, trivy, cosign,
# jaeger), built in the background while the rest of the setup and the type check run.
#
# Why: on a new machine they are the bulk of the CI's time (compiling Kubernetes alone takes about
# 20 minutes on 2 cores), while npm install, apt, the Docker engine, the test images, tsc and biome
# leave a core idle or wait on the network. Each build script already serialises itself with flock
# on its cache key and skips a tool that is in place, so starting a build twice is harmless: the
# second waits for the first and finds the binary.
#
#   bash scripts/go-tools.sh start   starts every build not already running, detached; each one's
#                                    output goes to .tools/logs/<tool>.log, its exit status to
#                                    .tools/logs/<tool>.rc, its wall time to .tools/logs/<tool>.time
#   bash scripts/go-tools.sh wait    waits for the started builds, then runs each build script once
#                                    more in the foreground (a no-op when its tool is in place, the
#                                    build itself when nothing started it), so `wait` alone provisions
#                                    everything. Prints each build's time; on a failure, the tail of
#                                    its log, and exits with its status.
#   bash scripts/go-tools.sh pending exits 0 when builds were started and not yet waited for.
# Appends each build's time to $SLUICE_TIMINGS when set (.ci/run's summary table).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
logs="$repo/.tools/logs"

# name and build script, in the order `wait` checks them (the order the suite first needs them).
tools=(
  "opa scripts/opa/build-opa.sh"
  "kubernetes scripts/kube/build-tools.sh"
  "trivy scripts/docker/build-trivy.sh"
  "cosign scripts/docker/build-cosign.sh"
  "jaeger scripts/jaeger/build-jaeger.sh"
)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
record() {
  if [ -n "${SLUICE_TIMINGS:-}" ]; then printf '%s\t%s\t%s\t%s\n' "$@" >>"$SLUICE_TIMINGS"; fi
}
# A build is running while its wrapper (named go-tools in its command line) is: a pid file left by
# a killed run, whose pid another process now has, must not make `wait` wait forever.
alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ' go-tools '
}

start() {
  mkdir -p "$logs"
  local entry name script
  for entry in "${tools[@]}"; do
    read -r name script <<<"$entry"
    if alive "$logs/$name.pid"; then
      echo "go-tools: $name already building (pid $(cat "$logs/$name.pid"))"
      continue
    fi
    if [ -f "$logs/.pending" ] && [ "$(cat "$logs/$name.rc" 2>/dev/null)" = 0 ]; then
      echo "go-tools: $name already built in the background"
      continue
    fi
    rm -f "$logs/$name.rc" "$logs/$name.time"
    # setsid: the build outlives this shell (and a Ctrl-C of it) and is its own process group.
    setsid bash -c '
      t0="$(date +%s.%N)"
      rc=0
      bash "$1" >"$2.log" 2>&1 </dev/null || rc=$?
      awk -v a="$t0" -v b="$(date +%s.%N)" "BEGIN { printf \"%.1f\n\", b - a }" >"$2.time"
      echo "$rc" >"$2.rc"
    ' go-tools "$repo/$script" "$logs/$name" </dev/null >/dev/null 2>&1 &
    echo $! >"$logs/$name.pid"
    echo "go-tools: $name building in the background (log: .tools/logs/$name.log)"
  done
  touch "$logs/.pending"
}

wait_all() {
  local entry name script t0 rc
  for entry in "${tools[@]}"; do
    read -r name script <<<"$entry"
    t0="$(now)"
    if alive "$logs/$name.pid"; then
      echo "go-tools: waiting for $name (building since the setup began; log: .tools/logs/$name.log)"
      while alive "$logs/$name.pid"; do sleep 2; done
    fi
    rc="$(cat "$logs/$name.rc" 2>/dev/null || echo none)"
    if [ "$rc" != "none" ] && [ "$rc" != 0 ]; then
      echo "go-tools: $name FAILED (exit $rc) in the background; the end of .tools/logs/$name.log:" >&2
      tail -n 40 "$logs/$name.log" >&2 || true
      record 1 "go build: $name (background)" "$(cat "$logs/$name.time" 2>/dev/null || echo 0)" "$rc"
      exit "$rc"
    fi
    if [ "$rc" = 0 ]; then
      record 1 "go build: $name (background, overlapped)" "$(cat "$logs/$name.time")" 0
      echo "go-tools: $name built in the background in $(cat "$logs/$name.time")s; waited $(since "$t0")s for it"
    fi
    # In place already (a no-op, a second), or built now when nothing started it.
    t0="$(now)"
    rc=0
    bash "$script" || rc=$?
    record 1 "go build: $name (foreground check)" "$(since "$t0")" "$rc"
    [ "$rc" -eq 0 ] || exit "$rc"
  done
  rm -f "$logs/.pending"
}

case "${1:-}" in
  start) start ;;
  wait) wait_all ;;
  pending) [ -f "$logs/.pending" ] ;;
  *)
    echo "usage: bash scripts/go-tools.sh start|wait|pending" >&2
    exit 64
    ;;
esac
