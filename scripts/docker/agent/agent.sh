#!/bin/sh
# Sluice test agent (runs inside the FROM-scratch test images, on busybox-static).
#   - serves /www over HTTP on $AGENT_PORT (default 8080): /health (absent in v3), /version, /config, /reloads
#   - SIGHUP: re-reads /etc/agent/config.txt into /www/config and bumps /www/reloads (config-only rollouts)
#   - SIGTERM/SIGINT: stops at once (so `docker stop` does not wait for its timeout)
#   - AGENT_CRASH=1: exits 1 right away (restart-loop tests); AGENT_UNHEALTHY=1: never serves /health
#   - AGENT_HEALTHY (set by the image): 1 = serves /health; 0 = never; requires-endpoint = only when the
#     container sets AGENT_ENDPOINT (v3: a setting it newly requires, which not every host has)
port="${AGENT_PORT:-8080}"
www="${AGENT_WWW:-/tmp/www}"
[ "${AGENT_CRASH:-0}" = "1" ] && { echo "agent $AGENT_VERSION: crashing on purpose" >&2; exit 1; }
mkdir -p "$www"
echo "$AGENT_VERSION" >"$www/version"
echo 0 >"$www/reloads"
load_config() {
  if [ -r /etc/agent/config.txt ]; then cat /etc/agent/config.txt >"$www/config"; else : >"$www/config"; fi
}
load_config
healthy=0
case "$AGENT_HEALTHY" in
  1) healthy=1 ;;
  requires-endpoint) [ -n "${AGENT_ENDPOINT:-}" ] && healthy=1 ;;
esac
[ "${AGENT_UNHEALTHY:-0}" = "1" ] && healthy=0
if [ "$healthy" = "1" ]; then echo ok >"$www/health"; else echo "agent $AGENT_VERSION: not healthy (AGENT_HEALTHY=$AGENT_HEALTHY, AGENT_ENDPOINT=${AGENT_ENDPOINT:-unset})" >&2; fi
reload() {
  load_config
  echo $(( $(cat "$www/reloads") + 1 )) >"$www/reloads"
  echo "agent $AGENT_VERSION: reloaded config" >&2
}
stop() { kill "$httpd" 2>/dev/null; exit 0; }
trap reload HUP
trap stop TERM INT
httpd -f -p "$port" -h "$www" &
httpd=$!
echo "agent $AGENT_VERSION: serving on :$port (pid $httpd)" >&2
# `wait` returns early when a trapped signal arrives; keep waiting while httpd runs.
while kill -0 "$httpd" 2>/dev/null; do wait "$httpd"; done
echo "agent $AGENT_VERSION: httpd exited" >&2
exit 1
