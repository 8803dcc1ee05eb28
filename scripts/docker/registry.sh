#!/usr/bin/env bash
# Starts a local registry (Debian's docker-registry) on 127.0.0.1:5000 with htpasswd basic auth, and
# pushes the test images (localhost:5000/sluice/agent:v1..v4) to it. Idempotent: reuses a registry
# this script started if it still answers; pushes only what is missing.
#
# Credentials: user "sluice"; the password is $SLUICE_REGISTRY_PASSWORD, else a random one generated
# once and kept in $SLUICE_DOCKER_STATE/registry/password (mode 0600) for the tests to read. It is
# never printed. The pushes log in through a private DOCKER_CONFIG under the state dir, so the user's
# ~/.docker/config.json is neither read nor written.
#
# Usage: bash scripts/docker/registry.sh [--stop]
set -euo pipefail

state="${SLUICE_DOCKER_STATE:-/var/tmp/sluice-docker}"
dir="$state/registry"
addr="${SLUICE_REGISTRY_ADDR:-127.0.0.1:5000}"
user="sluice"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "registry: $*" >&2; }
t0="$(now)"
mkdir -p "$dir/data"
chmod 0700 "$dir"

running_pid() {
  [[ -f "$dir/registry.pid" ]] || return 1
  local pid
  pid="$(cat "$dir/registry.pid")"
  kill -0 "$pid" 2>/dev/null && grep -q registry "/proc/$pid/comm" 2>/dev/null && echo "$pid"
}

if [[ "${1:-}" == "--stop" ]]; then
  if pid="$(running_pid)"; then kill "$pid"; log "stopped (pid $pid)"; else log "not running"; fi
  exit 0
fi

command -v docker-registry >/dev/null || { log "docker-registry missing; run: bash scripts/docker/provision.sh"; exit 1; }
command -v htpasswd >/dev/null || { log "htpasswd missing; run: bash scripts/docker/provision.sh"; exit 1; }

# The password: from the environment, else generated once.
umask 077
if [[ -n "${SLUICE_REGISTRY_PASSWORD:-}" ]]; then
  printf '%s' "$SLUICE_REGISTRY_PASSWORD" >"$dir/password"
elif [[ ! -s "$dir/password" ]]; then
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$dir/password"
fi
# htpasswd -i reads the password from stdin (never on a command line); -B = bcrypt (required by the registry).
htpasswd -B -i -c "$dir/htpasswd.new" "$user" <"$dir/password" 2>/dev/null
if ! cmp -s <(cut -d: -f1 "$dir/htpasswd.new") <(cut -d: -f1 "$dir/htpasswd" 2>/dev/null) \
  || ! htpasswd -v -i "$dir/htpasswd" "$user" <"$dir/password" >/dev/null 2>&1; then
  mv "$dir/htpasswd.new" "$dir/htpasswd"
  changed=1
else
  rm -f "$dir/htpasswd.new"
  changed=0
fi
umask 022

cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $addr
  secret: sluice-local-test-registry
auth:
  htpasswd:
    realm: sluice-test-registry
    path: $dir/htpasswd
EOF

answers() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/v2/" 2>/dev/null)" == "401" ]]; }

if pid="$(running_pid)" && ((changed == 0)) && answers; then
  log "reusing the registry at $addr (pid $pid)"
else
  if pid="$(running_pid)"; then kill "$pid"; sleep 0.3; fi
  setsid nohup docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1 </dev/null &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 80); do answers && break; sleep 0.25; done
  answers || { log "registry did not answer on $addr; see $dir/registry.log"; tail -20 "$dir/registry.log" >&2; exit 1; }
  log "started docker-registry on $addr with basic auth (pid $(cat "$dir/registry.pid"), log $dir/registry.log)"
fi

# Push the test images through a private Docker client config.
export DOCKER_CONFIG="$dir/docker-config"
mkdir -p "$DOCKER_CONFIG"
docker login -u "$user" --password-stdin "localhost:${addr##*:}" <"$dir/password" >/dev/null 2>"$dir/login.log" \
  || { log "docker login to localhost:${addr##*:} failed: $(cat "$dir/login.log")"; exit 1; }
for v in v1 v2 v3 v4; do
  ref="localhost:${addr##*:}/sluice/agent:$v"
  docker image inspect "$ref" >/dev/null 2>&1 || { log "$ref not built; run: bash scripts/docker/build-test-images.sh"; exit 1; }
  docker push -q "$ref" >/dev/null 2>"$dir/push.log" || { log "push $ref failed: $(cat "$dir/push.log")"; exit 1; }
done
log "pushed localhost:${addr##*:}/sluice/agent:v1..v4 in $(elapsed "$t0") (user $user, password in $dir/password)"
