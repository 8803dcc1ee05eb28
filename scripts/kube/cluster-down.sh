#!/usr/bin/env bash
# Stops a control plane started by scripts/kube/cluster-up.sh and removes its state directory.
# Usage: bash scripts/kube/cluster-down.sh DIR [--keep]   (--keep: leave DIR, e.g. to read logs/)
# Only the process ids recorded in DIR/pids (and DIR/watchdog.pid) are signalled.
set -uo pipefail

dir="${1:-}"
keep=0
[[ "${2:-}" == "--keep" ]] && keep=1
[[ -n "$dir" ]] || { echo "usage: cluster-down.sh DIR [--keep]" >&2; exit 2; }
[[ -d "$dir" ]] || { echo "cluster-down: $dir does not exist (nothing to do)" >&2; exit 0; }
dir="$(cd "$dir" && pwd)"

# Mark as stopping first so the watchdog (if any) does not start a second teardown.
rm -f "$dir/cluster.env"

stop_order=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)
pids=()
for name in "${stop_order[@]}"; do
  f="$dir/pids/$name.pid"
  [[ -f "$f" ]] || continue
  pid="$(cat "$f")"
  # Only signal it if it is still the binary we started (guards against pid reuse).
  if kill -0 "$pid" 2>/dev/null && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */"$name"* ]]; then
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  fi
  rm -f "$f"
done
for _ in $(seq 1 50); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [[ ${#alive[@]} -eq 0 ]] && break
  sleep 0.2
done
for pid in "${alive[@]:-}"; do [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; done

if [[ -f "$dir/watchdog.pid" ]]; then
  wpid="$(cat "$dir/watchdog.pid")"
  rm -f "$dir/watchdog.pid"
  # Do not kill ourselves when the watchdog is the one running this script.
  if [[ "$wpid" != "$$" && "$wpid" != "$PPID" ]] && kill -0 "$wpid" 2>/dev/null; then
    kill -TERM "$wpid" 2>/dev/null
  fi
fi

if [[ $keep == 1 ]]; then
  echo "cluster-down: stopped; state kept in $dir" >&2
else
  rm -rf "$dir"
  echo "cluster-down: stopped and removed $dir" >&2
fi
