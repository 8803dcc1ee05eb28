#!/usr/bin/env bash
# The Kubernetes demo (`npm run demo:k8s`): real rollouts of a DaemonSet with the `sluice` CLI on a
# throw-away control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# on 127.0.0.1; kwok plays the kubelets, so no image is ever pulled or run).
#
#   1. the control plane, 60 kwok nodes in 3 zones, the node-agent DaemonSet on 1.0.0 (examples/k8s/demo);
#   2. sluice plan + apply of 2.0.0, zone by zone (canary in zone-a, then waves of 10 nodes), each
#      wave Ready before the next, the policy and scan gates first: completes;
#   3. sluice apply of 2.1.0, which never becomes Ready on three nodes of zone-b (a kwok stage): the
#      first zone-b wave misses its progress deadline and Sluice rolls every node it touched back to
#      2.0.0 on its own;
#   4. the control plane is stopped, however the script ends (--keep leaves it running).
#
# Needs the binaries of scripts/kube/build-tools.sh (npm run test:full or npm run setup builds them)
# and the built CLI (npm run demo:k8s runs tsc -b first).
# Usage: bash scripts/kube/demo.sh [--keep]
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1
cli="$repo/examples/cli/dist/main.js"
demo="$repo/examples/k8s/demo"
[[ -f "$cli" ]] || { echo "demo: $cli missing; run: npx tsc -b (npm run demo:k8s does)" >&2; exit 1; }

if [[ -t 1 ]]; then
  bold() { printf '\033[1;36m%s\033[0m\n' "$*"; }
  dim() { printf '\033[2m%s\033[0m\n' "$*"; }
else
  bold() { printf '%s\n' "$*"; }
  dim() { printf '%s\n' "$*"; }
fi
step() { echo; bold "━━ $*"; echo; }
started=$SECONDS

work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-k8s-demo.XXXXXX")"
cluster="$work/cluster"
store="$work/store"
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [[ -f "$cluster/cluster.env" ]]; then
    if ((keep == 1)); then
      echo
      echo "kept: the control plane (export KUBECONFIG=$cluster/kubeconfig), the store $store"
      echo "stop it with: bash scripts/kube/cluster-down.sh $cluster"
      exit "$code"
    fi
    echo
    dim "stopping the control plane…"
    bash "$script_dir/cluster-down.sh" "$cluster" 2>/dev/null || true
  fi
  ((keep == 1)) || rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sluice() {
  # What an operator types (from the repository's root; the store is the demo's own).
  printf '$ sluice %s\n' "$*"
  local code=0
  (cd "$repo" && node "$cli" "$@" --store "$store") || code=$?
  # Ctrl-C: the CLI handles it (exit 130) so bash does not see the signal; end the demo here.
  ((code != 130)) || exit 130
  return "$code"
}
fleet() { node "$script_dir/demo-fleet.mjs" "$@"; }

step "1. A Kubernetes control plane, 60 kwok nodes in 3 zones, the node-agent DaemonSet on 1.0.0"
# --owner-pid: if this script is killed outright (kill -9), the control plane stops on its own.
if ! kubeconfig="$(bash "$script_dir/cluster-up.sh" "$cluster" --owner-pid $$ 2>"$work/cluster-up.log")"; then
  cat "$work/cluster-up.log" >&2
  echo "demo: the control plane did not start" >&2
  exit 1
fi
kubeconfig="$(tail -n1 <<<"$kubeconfig")"
grep -E '^cluster-up: cluster up' "$work/cluster-up.log" | sed 's/^cluster-up: //' || true
fleet nodes "$kubeconfig" 60 zone-a,zone-b,zone-c
fleet deploy "$kubeconfig" "$demo/node-agent.yaml"
fleet show "$kubeconfig" sluice-demo node-agent

step "2. node-agent 1.0.0 → 2.0.0, zone by zone: policy and scan gates, then waves, each one Ready before the next"
sluice plan -f examples/k8s/demo/rollout-v2.yaml --adapter-config examples/k8s/demo/adapter.yaml --kubeconfig "$kubeconfig"
echo
code=0
sluice apply -f examples/k8s/demo/rollout-v2.yaml --adapter-config examples/k8s/demo/adapter.yaml --kubeconfig "$kubeconfig" --id node-agent-v2 || code=$?
echo
echo "exit code $code $( ((code == 0)) && echo "(completed)" || echo "(expected 0)")"
fleet show "$kubeconfig" sluice-demo node-agent
((code == 0)) || exit 1

step "3. node-agent 2.0.0 → 2.1.0: zone-a is fine, but 2.1.0 never becomes Ready on three nodes of zone-b"
dim "(the kwok stage scripts/kube/stages/pod-never-ready-on-nodes.yaml, keyed on the DaemonSet's"
dim " annotations sluice.dev/never-ready-image and sluice.dev/never-ready-nodes in node-agent.yaml)"
echo
code=0
sluice apply -f examples/k8s/demo/rollout-v2.1.yaml --adapter-config examples/k8s/demo/adapter.yaml --kubeconfig "$kubeconfig" --id node-agent-v2-1 || code=$?
echo
echo "exit code $code $( ((code == 3)) && echo "(rolled back)" || echo "(expected 3)")"
fleet show "$kubeconfig" sluice-demo node-agent
((code == 3)) || exit 1

step "4. What the store remembers"
sluice list
echo
dim "demo finished in $((SECONDS - started))s"
