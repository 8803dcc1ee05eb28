#!/usr/bin/env bash
# Stops what provision.sh and registry.sh started: the local registry and the dockerd this script set
# started (an engine that was already running before provision.sh is left alone). Test containers
# (label io.sluice.test) are removed first, so the next dockerd start does not restart them.
#
# Usage: bash scripts/docker/stop.sh [--keep-engine]   (--keep-engine: only the registry + test containers)
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${SLUICE_DOCKER_STATE:-/var/tmp/sluice-docker}"
log() { echo "stop: $*" >&2; }

bash "$script_dir/registry.sh" --stop

if docker info >/dev/null 2>&1; then
  ids="$(docker ps -aq --filter label=io.sluice.test)"
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
    log "removed $(wc -w <<<"$ids") test container(s)"
  fi
fi

[[ "${1:-}" == "--keep-engine" ]] && exit 0

pid=""
[[ -f "$state/dockerd.pid" ]] && pid="$(cat "$state/dockerd.pid" 2>/dev/null || true)"
if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; log "dockerd (pid $pid) killed after 30s"; else log "dockerd (pid $pid) stopped"; fi
else
  log "no dockerd started by provision.sh is running (an engine started otherwise is left alone)"
fi
