#!/usr/bin/env bash
# Evaluates data.sluice.decision for one normalized input with the opa CLI (the reference the
# Wasm bundle is compared against) and prints the decision JSON:
#   {"allow": bool, "deny": [{"rule", "message", "container"?}], "warn": [...]}
# data.json (default packages/policies/data/data.json) must hold {"sluice": {"params": ...}};
# it replaces the default parameters (it is not merged with them). Input "-" reads stdin.
#
# Equivalent to:
#   opa eval -f json -d packages/policies/policies -d packages/policies/data/data.json \
#     -i input.json 'data.sluice.decision'
# (samples/ and *_test.rego are ignored here; loading them changes nothing.)
#
# Usage: bash scripts/opa/eval.sh <input.json|-> [data.json]
# Exit: 0 with the decision on stdout; 1 on usage/evaluation errors (no decision printed).
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 <input.json|-> [data.json]" >&2; exit 1
fi
input="$1"; data="${2:-$pkg/data/data.json}"
[[ "$input" == "-" || -e "$input" ]] || { echo "eval: input $input not found" >&2; exit 1; }
[[ -e "$data" ]] || { echo "eval: data $data not found" >&2; exit 1; }
ensure_opa

in_args=(-i "$input"); [[ "$input" == "-" ]] && in_args=(-I)
# --fail: an undefined decision is an error, never an empty result.
out="$("$opa" eval --fail -f json --ignore samples --ignore '*_test.rego' \
  -d "$pkg/policies" -d "$data" "${in_args[@]}" 'data.sluice.decision')"
if command -v jq >/dev/null; then
  jq -e '.result[0].expressions[0].value | select(type == "object" and (.allow | type) == "boolean")' <<<"$out" \
    || { echo "eval: malformed decision: $out" >&2; exit 1; }
else
  node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8")).result[0].expressions[0].value;
    if (typeof r !== "object" || typeof r.allow !== "boolean") { console.error("eval: malformed decision"); process.exit(1); }
    console.log(JSON.stringify(r, null, 2));' <<<"$out"
fi
