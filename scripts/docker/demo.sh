#!/usr/bin/env bash
# The Docker demo: real rollouts with the `sluice` CLI on the local Docker Engine.
#
#   1. six agent containers (v1) in two host groups, with volumes, networks, limits, restart policy;
#   2. sluice apply v2: waves spread over the two groups, each wave health-gated; configuration kept;
#   3. sluice apply v3: healthy on the first group, fails its HEALTHCHECK in the second wave, and
#      Sluice rolls every touched container back to v2 on its own;
#   4. sluice apply v4: runs as root, so the policy gate blocks it before anything is pulled or stopped.
#
# Needs the engine, images and registry of scripts/docker (provisioned here when missing) and the
# built CLI (npm run demo:docker builds it first). Removes its containers at the end unless --keep.
#
# Usage: bash scripts/docker/demo.sh [--keep]
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
state="${SLUICE_DOCKER_STATE:-/var/tmp/sluice-docker}"
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1
cli="$repo/examples/cli/dist/main.js"
[[ -f "$cli" ]] || { echo "demo: $cli missing; run: npx tsc -b (npm run demo:docker does)" >&2; exit 1; }

bold() { if [[ -t 1 ]]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { echo; bold "━━ $*"; echo; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "0. A Docker Engine, the test images (FROM scratch + busybox) and a local registry"
if ! docker info >/dev/null 2>&1; then bash "$script_dir/provision.sh"; fi
bash "$script_dir/build-test-images.sh" 2>&1 | tail -1
bash "$script_dir/registry.sh" 2>&1 | tail -1

work="$(mktemp -d /tmp/sluice-docker-demo.XXXXXX)"
store="$work/store"
names=(demo-a1 demo-a2 demo-a3 demo-b1 demo-b2 demo-b3)
cleanup() {
  if ((keep == 0)); then
    docker rm -f "${names[@]}" $(docker ps -aq --filter label=io.sluice.demo=1) >/dev/null 2>&1 || true
    docker network rm sluice-demo >/dev/null 2>&1 || true
    docker volume rm $(docker volume ls -q --filter label=io.sluice.demo=1) >/dev/null 2>&1 || true
    rm -rf "$work"
  else
    echo "kept: containers ${names[*]}, store $store"
  fi
}
trap cleanup EXIT

step "1. Six agents on v1 in two host groups (site a, site b)"
docker rm -f "${names[@]}" >/dev/null 2>&1 || true
docker network rm sluice-demo >/dev/null 2>&1 || true
docker network create --label io.sluice.demo=1 sluice-demo >/dev/null
for n in "${names[@]}"; do
  site="${n:5:1}"
  extra=()
  # v3 newly requires AGENT_ENDPOINT: only site a has it, so v3 fails on site b.
  [[ "$site" == a ]] && extra=(-e AGENT_ENDPOINT=https://collector.internal)
  docker volume create --label io.sluice.demo=1 "$n-data" >/dev/null
  docker run -d --name "$n" --label io.sluice.demo=1 --label io.sluice.demo.site="$site" --label app=agent \
    -e AGENT_SITE="$site" "${extra[@]}" --network sluice-demo --network-alias agent \
    -v "$n-data:/data" --memory 64m --cpus 0.5 --pids-limit 100 --cap-drop ALL --security-opt no-new-privileges \
    --restart unless-stopped -p 127.0.0.1::8080 localhost:5000/sluice/agent:v1 --site "$site" >/dev/null
done
docker ps --filter label=io.sluice.demo=1 --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'

# The adapter's configuration: two host entries on this engine (one over the socket, one over
# mutual TLS when provision.sh set that up), each with its site label; the registry credentials
# come from the file registry.sh wrote and are never printed.
if [[ -f "$state/engine.env" ]] && grep -q TLS_ENDPOINT "$state/engine.env"; then
  # shellcheck disable=SC1091
  source "$state/engine.env"
  host_b="{ name: host-b, endpoint: \"$SLUICE_DOCKER_TLS_ENDPOINT\", tls: { ca: \"$SLUICE_DOCKER_TLS_DIR/ca.pem\", cert: \"$SLUICE_DOCKER_TLS_DIR/cert.pem\", key: \"$SLUICE_DOCKER_TLS_DIR/key.pem\" }, labels: { site: b }, containerLabels: { io.sluice.demo.site: b } }"
else
  host_b="{ name: host-b, labels: { site: b }, containerLabels: { io.sluice.demo.site: b } }"
fi
umask 077
cat >"$work/adapter.yaml" <<EOF
hosts:
  - { name: host-a, endpoint: "unix:///var/run/docker.sock", labels: { site: a }, containerLabels: { io.sluice.demo.site: a } }
  - $host_b
registries:
  "localhost:5000": { username: sluice, password: "$(cat "$state/registry/password")" }
dockerConfig: false
EOF
umask 022
spec() { # image strategy-json topology-line
  cat >"$work/rollout.yaml" <<EOF
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata:
  name: demo-agents
spec:
  target:
    adapter: docker
    selector:
      labels: { io.sluice.demo: "1" }
  artifact:
    image: $1
  strategy: $2
  $3
  health:
    progressDeadline: 60s
  gates:
    policy: { enabled: true }
    scan: { enabled: false }
EOF
}
sluice() { node "$cli" "$@" --store "$store" --adapter-config "$work/adapter.yaml"; }

step "2. v1 → v2 in waves of 2, spread over the sites, each wave health-gated"
spec localhost:5000/sluice/agent:v2 "{ rolling: { batchSize: 2, maxUnavailable: 2 } }" "topology: site"
printf '$ sluice plan -f rollout.yaml\n'
sluice plan -f "$work/rollout.yaml" || true
printf '$ sluice apply -f rollout.yaml\n'
sluice apply -f "$work/rollout.yaml" --plain || true
docker ps --filter label=io.sluice.demo=1 --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'
echo
echo "configuration kept, e.g. demo-a1: $(docker inspect -f 'restart={{.HostConfig.RestartPolicy.Name}} memory={{.HostConfig.Memory}} volumes={{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}networks={{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{$v.Aliases}} {{end}}' demo-a1)"

step "3. v2 → v3: site a first (healthy), then site b, where v3's HEALTHCHECK fails → automatic rollback"
spec localhost:5000/sluice/agent:v3 "{ rolling: { batchSize: 3, maxUnavailable: 3 } }" ""
printf '$ sluice apply -f rollout.yaml\n'
sluice apply -f "$work/rollout.yaml" --plain || echo "(exit $?: rolled back)"
docker ps --filter label=io.sluice.demo=1 --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'

step "4. v2 → v4: v4 runs as root, so the policy gate blocks it; nothing is pulled or stopped"
docker image rm localhost:5000/sluice/agent:v4 >/dev/null 2>&1 || true
spec localhost:5000/sluice/agent:v4 "{ rolling: { batchSize: 2 } }" ""
printf '$ sluice apply -f rollout.yaml\n'
sluice apply -f "$work/rollout.yaml" --plain || echo "(exit $?: blocked by a gate)"
echo
if docker image inspect localhost:5000/sluice/agent:v4 >/dev/null 2>&1; then echo "v4 is on the engine (unexpected)"; else echo "v4 was not pulled."; fi
docker tag sluice-test/agent:v4 localhost:5000/sluice/agent:v4
docker ps --filter label=io.sluice.demo=1 --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}'
step "Done. The rollouts' journals (sluice list --store <store>):"
node "$cli" list --store "$store" || true
