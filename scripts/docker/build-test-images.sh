#!/usr/bin/env bash
# Builds the Docker adapter's test images locally, FROM scratch + Debian's busybox-static (nothing is
# pulled from the internet):
#   v1, v2  healthy agents, non-root (uid 10001)
#   v3      its HEALTHCHECK fails, non-root: v3 newly requires the setting AGENT_ENDPOINT and never turns
#           healthy on a container without it (the test bed sets it on the first host group only, so
#           v3 passes the first wave and fails the second)
#   v4      healthy, but runs as root (USER 0): the policy layer must block it
# Each is tagged sluice-test/agent:vN and localhost:5000/sluice/agent:vN, and labelled
# org.opencontainers.image.version=vN. Rebuilds are cached by Docker (same context = same layers).
#
# Usage: bash scripts/docker/build-test-images.sh
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${SLUICE_DOCKER_STATE:-/var/tmp/sluice-docker}"
ctx="$state/image-build"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }
log() { echo "build-test-images: $*" >&2; }
t0="$(now)"

docker info >/dev/null 2>&1 || { log "no Docker engine reachable; run: bash scripts/docker/provision.sh"; exit 1; }
busybox=/bin/busybox
[[ -x "$busybox" ]] || { log "$busybox missing; run: bash scripts/docker/provision.sh (installs busybox-static)"; exit 1; }
file_out="$(LC_ALL=C ldd "$busybox" 2>&1 || true)"
[[ "$file_out" == *"not a dynamic executable"* || "$file_out" == *"statically linked"* ]] \
  || { log "$busybox is not statically linked (install busybox-static)"; exit 1; }

# One shared rootfs layer: busybox + its applet links + a world-writable /tmp. Built so that its
# content (and so the layer digest) is identical for every version.
rm -rf "$ctx"
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/etc/agent" "$ctx/rootfs/www"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [[ "$applet" == busybox ]] && continue
  ln -s busybox "$ctx/rootfs/bin/$applet"
done
chmod 1777 "$ctx/rootfs/tmp"
install -m 0755 "$script_dir/agent/agent.sh" "$ctx/agent.sh"
# Fixed timestamps keep the layers reproducible across builds.
find "$ctx" -exec touch -h -d '2020-01-01T00:00:00Z' {} +

build() {
  local version="$1" user="$2" healthy="$3"
  cat >"$ctx/Dockerfile.$version" <<EOF
FROM scratch
COPY rootfs/ /
COPY agent.sh /agent.sh
ENV PATH=/bin AGENT_VERSION=$version AGENT_HEALTHY=$healthy AGENT_PORT=8080 AGENT_WWW=/tmp/www
LABEL org.opencontainers.image.version="$version" org.opencontainers.image.title="sluice test agent" io.sluice.test.agent="$version"
EXPOSE 8080
USER $user
WORKDIR /tmp
HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD wget -q -O /dev/null "http://127.0.0.1:\${AGENT_PORT}/health" || exit 1
ENTRYPOINT ["/bin/sh", "/agent.sh"]
EOF
  local t
  t="$(now)"
  local args=(build -q -f "$ctx/Dockerfile.$version" -t "sluice-test/agent:$version" -t "localhost:5000/sluice/agent:$version" "$ctx")
  # BuildKit is ~5x faster than the legacy builder here (the legacy one commits a layer per
  # instruction, slow on vfs). Use it when a CLI can: `docker` with buildx, or Debian's 20.10 CLI
  # (BuildKit built in); otherwise the legacy builder.
  if [[ -z "${builder:-}" ]]; then
    for cli in docker /usr/bin/docker; do
      command -v "$cli" >/dev/null || continue
      if DOCKER_BUILDKIT=1 "$cli" "${args[@]}" >/dev/null 2>"$state/build-$version.log"; then builder="buildkit:$cli"; break; fi
    done
    if [[ -z "${builder:-}" ]]; then
      builder=legacy
      DOCKER_BUILDKIT=0 docker "${args[@]}" >/dev/null 2>"$state/build-$version.log" \
        || { log "build $version failed:"; cat "$state/build-$version.log" >&2; exit 1; }
    fi
  elif [[ "$builder" == buildkit:* ]]; then
    DOCKER_BUILDKIT=1 "${builder#buildkit:}" "${args[@]}" >/dev/null 2>"$state/build-$version.log" \
      || { log "build $version failed:"; cat "$state/build-$version.log" >&2; exit 1; }
  else
    DOCKER_BUILDKIT=0 docker "${args[@]}" >/dev/null 2>"$state/build-$version.log" \
      || { log "build $version failed:"; cat "$state/build-$version.log" >&2; exit 1; }
  fi
  log "built sluice-test/agent:$version ($(docker image inspect -f '{{.Id}}' "sluice-test/agent:$version" | cut -c1-19), user $user, healthy=$healthy) in $(elapsed "$t")"
}

build v1 10001:10001 1
build v2 10001:10001 1
build v3 10001:10001 requires-endpoint
build v4 0:0 1
log "done in $(elapsed "$t0") (builder: $builder)"
