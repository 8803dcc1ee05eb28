#!/usr/bin/env bash
# Provisions a Docker Engine for the Docker adapter's tests, demo and benchmark.
#
# Idempotent:
#   - if `docker info` already works (any engine: a developer's, CI's), it is reused as is;
#   - otherwise Debian's packages are installed when missing (docker.io, busybox-static,
#     docker-registry, apache2-utils) and `dockerd` is started in the background with the `vfs`
#     storage driver, its log and pidfile in $SLUICE_DOCKER_STATE (default /var/tmp/sluice-docker),
#     and the script waits until the engine answers.
# Works unattended (CI=true, no stdin). Prints what it did.
#
# Environment:
#   SLUICE_DOCKER_STATE           state dir: dockerd.log, dockerd.pid, dockerd.args (default /var/tmp/sluice-docker)
#   SLUICE_DOCKER_DATA_ROOT       dockerd --data-root (default /var/lib/docker)
#   SLUICE_DOCKER_STORAGE_DRIVER  dockerd --storage-driver (default vfs)
#   SLUICE_DOCKER_HOST            socket path (default /var/run/docker.sock)
#   SLUICE_DOCKER_TLS_PORT        a second, mutual-TLS endpoint tcp://127.0.0.1:<port> (default 2376; 0 = none).
#                                 Its CA and client certificate are generated into $state/tls; the tests use it
#                                 to reach the same engine as a "remote" host. $state/engine.env describes both.
#
# Usage: bash scripts/docker/provision.sh [--restart]
#   --restart  stop the dockerd this script started and start it again with the same arguments
#              (used by the "dockerd restarted mid-rollout" test); refuses for an engine it did not start.
set -euo pipefail

state="${SLUICE_DOCKER_STATE:-/var/tmp/sluice-docker}"
data_root="${SLUICE_DOCKER_DATA_ROOT:-/var/lib/docker}"
driver="${SLUICE_DOCKER_STORAGE_DRIVER:-vfs}"
sock="${SLUICE_DOCKER_HOST:-/var/run/docker.sock}"
tls_port="${SLUICE_DOCKER_TLS_PORT:-2376}"
export DOCKER_HOST="unix://$sock"
export DEBIAN_FRONTEND=noninteractive

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "provision: $*" >&2; }
start_all="$(now)"

mkdir -p "$state"

engine_up() { docker info >/dev/null 2>&1; }

owned_pid() {
  # The pid of the dockerd this script started, if it still runs.
  [[ -f "$state/dockerd.pid" ]] || return 1
  local pid
  pid="$(cat "$state/dockerd.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' || missing+=(busybox-static)
  [[ -x /usr/bin/docker-registry ]] || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  if ((${#missing[@]} == 0)); then
    log "packages present (dockerd, busybox, docker-registry, htpasswd)"
    return
  fi
  local t
  t="$(now)"
  log "installing: ${missing[*]}"
  # Never let the packages' maintainer scripts start their own daemons (docker, registry):
  # this script starts dockerd itself with its own flags. policy-rc.d exit 101 = "action forbidden".
  local prc=/usr/sbin/policy-rc.d created_prc=0
  if [[ ! -e "$prc" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$prc"
    chmod +x "$prc"
    created_prc=1
  fi
  # The package index may be stale or absent on a fresh machine.
  if ! apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >"$state/apt.log" 2>&1; then
    apt-get update </dev/null >>"$state/apt.log" 2>&1
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >>"$state/apt.log" 2>&1 || {
      ((created_prc)) && rm -f "$prc"
      log "apt-get install failed; see $state/apt.log"; tail -20 "$state/apt.log" >&2; exit 1
    }
  fi
  ((created_prc)) && rm -f "$prc"
  # docker-registry's package may have started its service anyway (no init system here: it does not);
  # registry.sh runs its own instance on 127.0.0.1:5000.
  log "installed ${missing[*]} in $(elapsed "$t") (log: $state/apt.log)"
}

make_tls() {
  # A private CA, a server certificate for 127.0.0.1/localhost and a client certificate (mutual TLS).
  local d="$state/tls"
  [[ -s "$d/ca.pem" && -s "$d/server-cert.pem" && -s "$d/cert.pem" && -s "$d/key.pem" ]] && return
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice test CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice-client" -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile client.ext -out cert.pem 2>/dev/null
    rm -f server.csr client.csr server.ext client.ext
    chmod 0644 ca.pem cert.pem server-cert.pem
  )
  log "generated a test CA, server and client certificates in $d"
}

start_dockerd() {
  local t
  t="$(now)"
  local args=(--storage-driver "$driver" --data-root "$data_root" --host "unix://$sock"
    --pidfile "$state/dockerd.pid" --exec-root "$state/exec")
  if [[ "$tls_port" != "0" ]]; then
    make_tls
    args+=(--host "tcp://127.0.0.1:$tls_port" --tlsverify --tlscacert "$state/tls/ca.pem"
      --tlscert "$state/tls/server-cert.pem" --tlskey "$state/tls/server-key.pem")
  fi
  # iptables: Debian 12 defaults to the nft backend; both work with this kernel. Keep Docker's default (on).
  printf '%s\n' "${args[@]}" >"$state/dockerd.args"
  {
    echo "SLUICE_DOCKER_SOCKET=$sock"
    if [[ "$tls_port" != "0" ]]; then
      echo "SLUICE_DOCKER_TLS_ENDPOINT=tcp://127.0.0.1:$tls_port"
      echo "SLUICE_DOCKER_TLS_DIR=$state/tls"
    fi
  } >"$state/engine.env"
  log "starting dockerd ${args[*]} (log: $state/dockerd.log)"
  # setsid: its own session, so it outlives this script and the caller's process group.
  setsid nohup dockerd "${args[@]}" >>"$state/dockerd.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 240); do
    if engine_up; then
      log "dockerd ready in $(elapsed "$t") (pid $(cat "$state/dockerd.pid"))"
      return
    fi
    if ((i > 10)) && ! owned_pid >/dev/null && ! pgrep -x dockerd >/dev/null; then
      log "dockerd exited; last lines of $state/dockerd.log:"; tail -30 "$state/dockerd.log" >&2; exit 1
    fi
    sleep 0.25
  done
  log "dockerd not ready after 60s; last lines of $state/dockerd.log:"; tail -30 "$state/dockerd.log" >&2; exit 1
}

stop_owned_dockerd() {
  local pid
  pid="$(owned_pid)" || return 0
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  local i
  for i in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  log "dockerd did not stop in 30s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

if [[ "${1:-}" == "--restart" ]]; then
  owned_pid >/dev/null || { log "--restart: no dockerd started by this script is running (state $state)"; exit 2; }
  stop_owned_dockerd
  start_dockerd
  log "restarted in $(elapsed "$start_all")"
  exit 0
fi

if engine_up && ! owned_pid >/dev/null; then
  rm -f "$state/engine.env"
  log "reusing the running engine at $DOCKER_HOST ($(docker version --format 'server {{.Server.Version}}' 2>/dev/null)); storage driver $(docker info --format '{{.Driver}}' 2>/dev/null)"
  # The test images still need busybox; the registry needs docker-registry and htpasswd.
  install_packages
  exit 0
fi

install_packages
if engine_up; then
  log "reusing the dockerd this script started (pid $(owned_pid)); $(docker version --format 'server {{.Server.Version}}')"
  exit 0
fi
if pid="$(owned_pid)"; then
  log "dockerd (pid $pid) runs but does not answer yet; waiting"
  for _ in $(seq 1 120); do engine_up && break; sleep 0.25; done
  engine_up || { log "dockerd pid $pid is not answering; restarting it"; stop_owned_dockerd; start_dockerd; }
else
  start_dockerd
fi
log "engine: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}'), storage driver $(docker info --format '{{.Driver}}'); total $(elapsed "$start_all")"
