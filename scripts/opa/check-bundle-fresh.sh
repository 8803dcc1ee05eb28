#!/usr/bin/env bash
# Fails (exit 1) when the committed Wasm bundle in packages/policies/dist is stale:
#   - dist/manifest.json's sourcesSha256 does not match the current Rego sources + data.json, or
#   - a rebuild into a temp dir (same pinned opa) differs byte for byte from dist/
#     (policy.wasm, data.json, manifest.json). opa build -t wasm is deterministic for a given
#     opa version and sources, so any difference means dist/ was not rebuilt after a change
#     (or was built with another opa version).
# Fix: bash scripts/opa/build-bundle.sh, then commit packages/policies/dist/.
#
# Usage: bash scripts/opa/check-bundle-fresh.sh
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
dist="$pkg/dist"
fix="run 'bash scripts/opa/build-bundle.sh' and commit packages/policies/dist/"
stale() { echo "check-bundle-fresh: STALE: $*" >&2; echo "check-bundle-fresh: $fix" >&2; exit 1; }

for f in policy.wasm data.json manifest.json; do
  [[ -f "$dist/$f" ]] || stale "packages/policies/dist/$f is missing"
done

want="$(sources_sha256)"
have="$(sed -n 's/.*"sourcesSha256": *"\([0-9a-f]*\)".*/\1/p' "$dist/manifest.json")"
[[ "$have" == "$want" ]] || stale "dist/manifest.json sourcesSha256 is ${have:-<none>}, the sources hash to $want"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$opa_script_dir/build-bundle.sh" --out "$tmp" 2>/dev/null || { echo "check-bundle-fresh: rebuilding the bundle failed:" >&2; bash "$opa_script_dir/build-bundle.sh" --out "$tmp"; exit 1; }
for f in policy.wasm data.json manifest.json; do
  cmp -s "$tmp/$f" "$dist/$f" || stale "dist/$f differs from a fresh build with opa ${OPA_VERSION#v} (committed: $(sha256sum < "$dist/$f" | cut -c1-12), rebuilt: $(sha256sum < "$tmp/$f" | cut -c1-12))"
done
echo "check-bundle-fresh: packages/policies/dist is up to date (sources $want, opa ${OPA_VERSION#v})"
