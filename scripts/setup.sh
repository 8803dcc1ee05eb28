#!/usr/bin/env bash
# Provisions everything the whole test suite needs, skipping what is already there:
#   - opa (built from the Go module proxy into .tools/bin),
#   - the Kubernetes test control plane binaries (etcd, kube-apiserver, kube-controller-manager,
#     kube-scheduler, kwok, kwokctl; built from Go modules into .tools/bin),
#   - a Docker Engine (Debian docker.io, dockerd with vfs) with the test images and a local registry,
#   - trivy and cosign (built from Go modules into .tools/bin) for the digest-binding and
#     signature-gate tests,
#   - jaeger all-in-one (built from Go modules into .tools/bin) for the trace tests.
# The Go builds (opa, Kubernetes, trivy, cosign, jaeger) start first, in the background
# (scripts/go-tools.sh), and run while the other steps provision; the setup then waits for them,
# unless SLUICE_SETUP_DEFER_BUILDS=1 (as `npm run test:full` sets it): then `npm test` waits for
# them after its type check, lint and package checks, just before the tests.
# Safe to run again; every step reuses what it finds. Prints how long each step took (and appends
# it to $SLUICE_TIMINGS when set: .ci/run's summary table).
set -euo pipefail
cd "$(dirname "$0")/.."

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# record <level> <name> <seconds> <exit status>: one line of $SLUICE_TIMINGS (tab-separated).
record() {
  if [ -n "${SLUICE_TIMINGS:-}" ]; then printf '%s\t%s\t%s\t%s\n' "$@" >>"$SLUICE_TIMINGS"; fi
}

step() {
  local name="$1"
  shift
  local t0 rc=0 dt
  t0="$(now)"
  echo "==> setup: $name"
  "$@" || rc=$?
  dt="$(since "$t0")"
  record 1 "setup: $name" "$dt" "$rc"
  if [ "$rc" -ne 0 ]; then
    echo "==> setup: $name FAILED (exit $rc) after ${dt}s"
    exit "$rc"
  fi
  echo "==> setup: $name done in ${dt}s"
}
setup_t0="$(now)"

need_apt() {
  local missing=()
  for pkg in "$@"; do command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# opa (the policy bundle and tests), the Kubernetes control plane binaries, trivy (the
# digest-binding tests scan with it), cosign (the signature-gate tests sign with it), jaeger (the
# trace tests read Sluice's spans back from it).
step "start the Go builds in the background" bash scripts/go-tools.sh start
step "base tools (jq, openssl, prometheus, chromium)" need_apt jq openssl prometheus chromium
step "docker engine" bash scripts/docker/provision.sh
step "docker test images" bash scripts/docker/build-test-images.sh
step "docker registry" bash scripts/docker/registry.sh
if [ "${SLUICE_SETUP_DEFER_BUILDS:-}" = 1 ]; then
  echo "==> setup: the Go builds go on in the background; npm test waits for them before the tests"
else
  step "wait for the Go builds" bash scripts/go-tools.sh wait
fi
record 0 "setup (scripts/setup.sh)" "$(since "$setup_t0")" 0
