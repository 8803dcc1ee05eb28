#!/usr/bin/env bash
# Restarts one component of a control plane started by scripts/kube/cluster-up.sh, with the same
# command line, after it has been down for a while: for tests that survive an apiserver restart.
# Usage: bash scripts/kube/restart-component.sh DIR NAME [DOWN_SECONDS]
#   NAME: kube-apiserver | kube-controller-manager | kube-scheduler | kwok | etcd
set -euo pipefail
dir="${1:?usage: restart-component.sh DIR NAME [DOWN_SECONDS]}"
name="${2:?usage: restart-component.sh DIR NAME [DOWN_SECONDS]}"
down="${3:-2}"
pidfile="$dir/pids/$name.pid"
[[ -f "$pidfile" ]] || { echo "restart-component: no $pidfile" >&2; exit 1; }
pid="$(cat "$pidfile")"
[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */"$name"* ]] || { echo "restart-component: $name ($pid) is not running" >&2; exit 1; }
# The exact argv, NUL-separated, so arguments with spaces survive.
mapfile -d '' argv < "/proc/$pid/cmdline"
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" 2>/dev/null || true
sleep "$down"
setsid "${argv[@]}" >>"$dir/logs/$name.log" 2>&1 < /dev/null &
echo $! > "$pidfile"
if [[ "$name" == "kube-apiserver" ]]; then
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  pki="$dir/pki"
  for _ in $(seq 1 300); do
    curl -fsS --max-time 2 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
      "https://127.0.0.1:${APISERVER_PORT}/readyz" >/dev/null 2>&1 && { echo "restart-component: $name ready" >&2; exit 0; }
    sleep 0.2
  done
  echo "restart-component: $name did not become ready" >&2; exit 1
fi
echo "restart-component: $name restarted" >&2
