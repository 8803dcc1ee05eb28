#!/usr/bin/env bash
# Starts a throw-away Kubernetes control plane on 127.0.0.1 for tests:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler (real Kubernetes) and the kwok
#   controller (simulated nodes and pods: no kubelet, no container images).
# Binaries come from .tools/bin (bash scripts/kube/build-tools.sh). Every port is a free port probed
# at start, every listener binds 127.0.0.1 only, certificates are generated with openssl.
#
# Usage: bash scripts/kube/cluster-up.sh [DIR] [--owner-pid PID]
#   DIR          state directory (created; default: a new mktemp dir). Receives kubeconfig, pki/,
#                logs/, pids/, cluster.env.
#   --owner-pid  tear the cluster down automatically when process PID exits (used by the vitest
#                global setup so a crashed test run does not leak processes).
# Prints the kubeconfig path as the last line of stdout. Progress goes to stderr.
# Env: SLUICE_KUBE_BIN (default <repo>/.tools/bin), SLUICE_KUBE_START_TIMEOUT (seconds, default 120),
#      SLUICE_KUBE_STAGES (directory of kwok Stage YAMLs, default scripts/kube/stages),
#      SLUICE_KUBE_AUDIT=1 (the apiserver writes an audit log, metadata level, to DIR/logs/audit.log:
#      who sent which request; the benchmark counts a client's requests with it).
# Stop with: bash scripts/kube/cluster-down.sh DIR
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
bin="${SLUICE_KUBE_BIN:-$repo/.tools/bin}"
timeout_s="${SLUICE_KUBE_START_TIMEOUT:-120}"

dir="" owner_pid=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --owner-pid) owner_pid="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) [[ -z "$dir" ]] || { echo "cluster-up: unexpected argument $1" >&2; exit 2; }; dir="$1"; shift ;;
  esac
done
[[ -n "$dir" ]] || dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-kube.XXXXXX")"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

log() { echo "cluster-up: $*" >&2; }
now() { date +%s.%N; }
start_ts="$(now)"
elapsed() { awk -v a="$start_ts" -v b="$(now)" 'BEGIN{printf "%.1fs", b-a}'; }

missing=()
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
  [[ -x "$bin/$b" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "cluster-up: missing binaries in $bin: ${missing[*]}" >&2
  echo "cluster-up: provision them with: bash scripts/kube/build-tools.sh" >&2
  exit 3
fi
command -v openssl >/dev/null || { echo "cluster-up: openssl is required" >&2; exit 3; }
command -v curl >/dev/null || { echo "cluster-up: curl is required" >&2; exit 3; }

if [[ -f "$dir/cluster.env" ]]; then
  echo "cluster-up: $dir already holds a cluster; run cluster-down.sh $dir first" >&2
  exit 2
fi

pki="$dir/pki" logs="$dir/logs" pids="$dir/pids"
mkdir -p "$pki" "$logs" "$pids" "$dir/etcd-data"
chmod 700 "$dir" "$pki" "$dir/etcd-data"

# ---------- free ports on 127.0.0.1 ----------
declare -A taken=()
port_in_use() {
  if command -v ss >/dev/null; then
    [[ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
# Below the kernel's ephemeral range: a port in it can be taken at any moment by the source port of
# an outgoing connection (the test clients make thousands), between this probe and the bind.
ephemeral_start="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
(( ephemeral_start > 12000 )) || ephemeral_start=32768
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % (ephemeral_start - 10000) ))
    [[ -z "${taken[$p]:-}" ]] || continue
    port_in_use "$p" && continue
    taken[$p]=1; echo "$p"; return 0
  done
  echo "cluster-up: no free port found" >&2; return 1
}
etcd_port="$(free_port)"; etcd_peer_port="$(free_port)"; api_port="$(free_port)"
kcm_port="$(free_port)"; sched_port="$(free_port)"; kwok_port="$(free_port)"

# ---------- PKI ----------
pki_start="$(now)"
ossl() { openssl "$@" 2>>"$logs/openssl.log"; }
ec_key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ec_key "$pki/ca.key"
ossl req -x509 -new -key "$pki/ca.key" -subj "/CN=sluice-test-ca" -days 3650 -out "$pki/ca.crt" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"
sign() { # name subject extfile-content
  ec_key "$pki/$1.key"
  ossl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr"
  printf '%s\n' "$3" > "$pki/$1.ext"
  ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile "$pki/$1.ext" -out "$pki/$1.crt"
  rm -f "$pki/$1.csr" "$pki/$1.ext"
}
sign apiserver "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=sluice-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
# Service-account token signing key (RSA, as kube-apiserver expects for RS256).
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key"
ossl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
pki_s="$(awk -v a="$pki_start" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"

# ---------- kubeconfig ----------
b64() { base64 -w0 < "$1"; }
kubeconfig="$dir/kubeconfig"
cat > "$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sluice-test
  cluster:
    server: https://127.0.0.1:${api_port}
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: sluice-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
contexts:
- name: sluice-test
  context:
    cluster: sluice-test
    user: sluice-admin
current-context: sluice-test
EOF
chmod 600 "$kubeconfig"

cat > "$dir/cluster.env" <<EOF
SLUICE_KUBE_DIR=$dir
KUBECONFIG=$kubeconfig
SLUICE_KUBE_API=https://127.0.0.1:${api_port}
ETCD_PORT=$etcd_port
ETCD_PEER_PORT=$etcd_peer_port
APISERVER_PORT=$api_port
KCM_PORT=$kcm_port
SCHEDULER_PORT=$sched_port
KWOK_PORT=$kwok_port
EOF

# ---------- processes ----------
fail() {
  echo "cluster-up: $*" >&2
  local f
  for f in "$logs"/*.log; do
    [[ -s "$f" && "$f" != */openssl.log ]] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  bash "$script_dir/cluster-down.sh" "$dir" --keep >&2 || true
  echo "cluster-up: state and logs kept in $dir" >&2
  exit 1
}
start() { # name args...
  local name="$1"; shift
  # setsid: own process group, so Ctrl-C in the caller's terminal does not half-kill the cluster.
  setsid "$@" >"$logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$pids/$name.pid"
}
alive() { kill -0 "$(cat "$pids/$1.pid")" 2>/dev/null; }
deadline=$(( $(date +%s) + timeout_s ))
wait_for() { # name description command...
  local name="$1" what="$2"; shift 2
  until "$@" >/dev/null 2>&1; do
    alive "$name" || fail "$name exited while waiting for $what"
    (( $(date +%s) < deadline )) || fail "timed out after ${timeout_s}s waiting for $what"
    sleep 0.2
  done
}
curl_api() { curl -fsS --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$@"; }

start etcd "$bin/etcd" \
  --name=sluice --data-dir="$dir/etcd-data" \
  --listen-client-urls="http://127.0.0.1:${etcd_port}" --advertise-client-urls="http://127.0.0.1:${etcd_port}" \
  --listen-peer-urls="http://127.0.0.1:${etcd_peer_port}" --initial-advertise-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
  --initial-cluster="sluice=http://127.0.0.1:${etcd_peer_port}" \
  --unsafe-no-fsync=true --snapshot-count=10000 --quota-backend-bytes=2147483648 \
  --log-level=warn
wait_for etcd "etcd health" curl -fsS --max-time 2 "http://127.0.0.1:${etcd_port}/health"

audit=()
if [[ "${SLUICE_KUBE_AUDIT:-0}" == "1" ]]; then
  cat > "$dir/audit-policy.yaml" <<'AUDIT'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
AUDIT
  audit=(--audit-policy-file="$dir/audit-policy.yaml" --audit-log-path="$logs/audit.log" --audit-log-maxsize=0)
fi

start kube-apiserver "$bin/kube-apiserver" \
  "${audit[@]}" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
  --etcd-servers="http://127.0.0.1:${etcd_port}" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 \
  --authorization-mode=RBAC \
  --endpoint-reconciler-type=none \
  --allow-privileged=true \
  --profiling=false \
  --event-ttl=30m
wait_for kube-apiserver "kube-apiserver /readyz" curl_api "https://127.0.0.1:${api_port}/readyz"
log "kube-apiserver ready on https://127.0.0.1:${api_port} ($(elapsed))"

start kube-controller-manager "$bin/kube-controller-manager" \
  --kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$kcm_port" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=false \
  --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" \
  --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
  --kube-api-qps=200 --kube-api-burst=400 \
  --flex-volume-plugin-dir="$dir/flexvolume" \
  --profiling=false

start kube-scheduler "$bin/kube-scheduler" \
  --kubeconfig="$kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$sched_port" \
  --leader-elect=false \
  --profiling=false

stages=()
stages_dir="${SLUICE_KUBE_STAGES:-$script_dir/stages}"
for f in "$stages_dir"/*.yaml; do stages+=("--config=$f"); done
[[ ${#stages[@]} -gt 0 ]] || fail "no kwok stage files in $stages_dir"
# kwok's own options (how many pods move through a stage at once): see the file.
stages+=("--config=$script_dir/kwok-configuration.yaml")
# KWOK_WORKDIR: keep a ~/.kwok/kwok.yaml of the user from being merged into this configuration.
start kwok env KWOK_WORKDIR="$dir/kwok" "$bin/kwok" \
  --kubeconfig="$kubeconfig" \
  "${stages[@]}" \
  --manage-all-nodes=true \
  --cidr=10.244.0.1/16 \
  --node-ip=10.240.0.1 \
  --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:${kwok_port}"

wait_for kube-controller-manager "kube-controller-manager /healthz" curl -fsSk --max-time 2 "https://127.0.0.1:${kcm_port}/healthz"
wait_for kube-scheduler "kube-scheduler /healthz" curl -fsSk --max-time 2 "https://127.0.0.1:${sched_port}/healthz"
wait_for kwok "kwok /healthz" curl -fsS --max-time 2 "http://127.0.0.1:${kwok_port}/healthz"
# The service-account controller creating "default" proves the controller manager talks to the API.
wait_for kube-controller-manager "the default ServiceAccount" curl_api "https://127.0.0.1:${api_port}/api/v1/namespaces/default/serviceaccounts/default"

if [[ -n "$owner_pid" ]]; then
  # Watchdog: tear down when the owner (e.g. the vitest process) goes away without cleaning up.
  # shellcheck disable=SC2016 # $1.. expand in the watchdog shell
  setsid bash -c 'while kill -0 "$1" 2>/dev/null && [[ -f "$2/cluster.env" ]]; do sleep 2; done
                  [[ -f "$2/cluster.env" ]] && exec bash "$3/cluster-down.sh" "$2"' \
    watchdog "$owner_pid" "$dir" "$script_dir" >"$logs/watchdog.log" 2>&1 < /dev/null &
  echo $! > "$dir/watchdog.pid"
fi

mem_kb=0
for f in "$pids"/*.pid; do
  kb="$(awk '/^VmRSS:/{print $2}' "/proc/$(cat "$f")/status" 2>/dev/null || echo 0)"
  mem_kb=$(( mem_kb + ${kb:-0} ))
done
echo "SLUICE_KUBE_START_SECONDS=$(elapsed | tr -d s)" >> "$dir/cluster.env"
log "cluster up in $(elapsed) (pki ${pki_s}s); RSS $(( mem_kb / 1024 )) MiB; state in $dir"
log "export KUBECONFIG=$kubeconfig"
echo "$kubeconfig"
