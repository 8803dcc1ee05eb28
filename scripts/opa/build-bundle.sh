#!/usr/bin/env bash
# Compiles the built-in policies to OPA Wasm and writes the committed bundle:
#   packages/policies/dist/policy.wasm    opa build -t wasm -e sluice/decision
#   packages/policies/dist/data.json      default parameters (data.sluice.params), as built
#   packages/policies/dist/manifest.json  {sourcesSha256, opaVersion, entrypoint, revision, ...}
# sourcesSha256 covers the sorted non-test Rego sources and data/data.json (see lib.sh);
# revision is its first 12 hex digits. Fails if the Wasm needs built-ins the Wasm target does
# not implement natively (the JS SDK would have to supply them).
#
# Usage: bash scripts/opa/build-bundle.sh [--out DIR]   (default DIR: packages/policies/dist)
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

out="$pkg/dist"
if [[ "${1:-}" == "--out" ]]; then out="$2"; fi
ensure_opa
command -v node >/dev/null || { echo "build-bundle: node is required (to list the Wasm's required built-ins)" >&2; exit 1; }

start="$(date +%s%N)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sha="$(sources_sha256)"
revision="${sha:0:12}"

# Relative paths from packages/policies, so the output does not depend on where the clone is.
( cd "$pkg" && "$opa" build -t wasm -e "$ENTRYPOINT" --revision "$revision" \
    --ignore '*_test.rego' --ignore samples \
    -o "$work/bundle.tar.gz" policies data/data.json )
mkdir -p "$work/x"
tar -xzf "$work/bundle.tar.gz" -C "$work/x" /policy.wasm /data.json 2>/dev/null \
  || tar -xzf "$work/bundle.tar.gz" -C "$work/x" policy.wasm data.json

builtins="$(node "$opa_script_dir/wasm-builtins.mjs" "$work/x/policy.wasm")"
if [[ "$builtins" != "{}" ]]; then
  echo "build-bundle: the Wasm needs built-ins the Wasm target does not implement natively: $builtins" >&2
  echo "build-bundle: rewrite the policy without them (see packages/policies/INPUT.md)" >&2
  exit 1
fi

wasm_sha="$(sha256sum "$work/x/policy.wasm" | cut -d' ' -f1)"
data_sha="$(sha256sum "$work/x/data.json" | cut -d' ' -f1)"
sources_json="$(policy_sources | sed 's/.*/"&"/' | paste -sd, -)"
cat > "$work/x/manifest.json" <<JSON
{
  "sourcesSha256": "$sha",
  "opaVersion": "${OPA_VERSION#v}",
  "entrypoint": "$ENTRYPOINT",
  "revision": "$revision",
  "wasmSha256": "$wasm_sha",
  "dataSha256": "$data_sha",
  "requiredBuiltins": [],
  "sources": [$sources_json]
}
JSON

mkdir -p "$out"
for f in policy.wasm data.json manifest.json; do
  install -m 0644 "$work/x/$f" "$out/.$f.tmp" && mv -f "$out/.$f.tmp" "$out/$f"
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "build-bundle: wrote $out (revision $revision, opa ${OPA_VERSION#v}, $(stat -c %s "$out/policy.wasm") bytes of Wasm) in ${ms}ms" >&2
