#!/usr/bin/env bash
# Evaluates every sample input (packages/policies/policies/<policy>/samples/*.json) against the
# policies with opa eval and checks allow + the deny/warn rule ids against the sample's "expected".
# A sample file is {"<file name>": {"description", "params"?, "input", "expected": {"allow", "deny": [rule ids], "warn": [rule ids]}}}
# (one unique top-level key per file, so `opa eval -d packages/policies/policies` can load the
# samples as data without merge conflicts). "params", when present, replaces data.sluice.params.
#
# Also validates every sample input against packages/policies/schema/input.schema.json (when
# python3 with the jsonschema module is available; skipped with a note otherwise): inputs must be
# valid unless the sample expects input/invalid or scan-gate/invalid-report.
#
# Usage: bash scripts/opa/check-samples.sh [-v]
set -euo pipefail
script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$script_dir/../.." && pwd)"
pkg="$repo/packages/policies"
opa="${OPA:-$repo/.tools/bin/opa}"
[[ -x "$opa" ]] || { echo "check-samples: $opa not found; run scripts/opa/build-opa.sh" >&2; exit 1; }
command -v jq >/dev/null || { echo "check-samples: jq is required" >&2; exit 1; }
verbose=0; [[ "${1:-}" == "-v" ]] && verbose=1

shopt -s nullglob
files=("$pkg"/policies/*/samples/*.json)
(( ${#files[@]} > 0 )) || { echo "check-samples: no samples found" >&2; exit 1; }

# {"<policy>/<file>": sample}
all="$(for f in "${files[@]}"; do
  policy="$(basename "$(dirname "$(dirname "$f")")")"; name="$(basename "$f" .json)"
  jq -c --arg key "$policy/$name" --arg name "$name" \
    'if (keys == [$name]) then {($key): .[$name]} else error("\($key).json must have the single top-level key \"\($name)\"") end' "$f"
done | jq -s 'add')"

out="$(printf '%s' "$all" | "$opa" eval --fail -f json -I \
  -d "$pkg/policies" -d "$pkg/data/data.json" -d "$script_dir/check_samples.rego" \
  --ignore samples --ignore '*_test.rego' \
  '{"results": data.sluice_samples.results, "unknown_rules": data.sluice_samples.unknown_rules}')"
results="$(jq -c '.result[0].expressions[0].value.results' <<<"$out")"
unknown="$(jq -r '.result[0].expressions[0].value.unknown_rules | join(", ")' <<<"$out")"
if [[ -n "$unknown" ]]; then
  echo "check-samples: rule ids missing from data.sluice.rule_ids (decision.rego) and the README: $unknown" >&2
  exit 1
fi

n="$(jq 'length' <<<"$results")"
failed="$(jq '[.[] | select(.ok | not)] | length' <<<"$results")"
if (( verbose )); then
  jq -r 'sort_by(.sample)[] | "\(if .ok then "PASS" else "FAIL" end) \(.sample)"' <<<"$results"
fi
if (( failed > 0 )); then
  jq -r '.[] | select(.ok | not) | "FAIL \(.sample)\n  want: \(.want)\n  got:  \(.got)\n  deny: \([.decision.deny[].message])\n  warn: \([.decision.warn[].message])"' <<<"$results" >&2
  echo "check-samples: $failed of $n samples do not match their expected decision" >&2
  exit 1
fi
echo "check-samples: all $n samples match their expected decision"

if python3 -c 'import jsonschema' 2>/dev/null; then
  printf '%s' "$all" | python3 -c '
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
bad = 0
samples = json.load(sys.stdin)
for key, sample in sorted(samples.items()):
    errors = sorted(validator.iter_errors(sample["input"]), key=lambda e: list(e.absolute_path))
    expect_invalid = bool({"input/invalid", "scan-gate/invalid-report"} & set(sample["expected"]["deny"]))
    if bool(errors) != expect_invalid:
        bad += 1
        detail = "; ".join("/".join(map(str, e.absolute_path)) + ": " + e.message for e in errors[:3]) or "valid, but the sample expects an invalid input"
        print(f"SCHEMA {key}: {detail}", file=sys.stderr)
if bad:
    sys.exit(f"check-samples: {bad} sample inputs disagree with schema/input.schema.json")
print(f"check-samples: {len(samples)} sample inputs agree with schema/input.schema.json")
' "$pkg/schema/input.schema.json"
else
  echo "check-samples: python3 jsonschema not available; skipped validating samples against schema/input.schema.json"
fi
