#!/usr/bin/env bash
# Lints and tests the Rego policies under packages/policies/policies:
#   1. opa fmt --list          (fails if any file is not opa-fmt formatted)
#   2. opa check --strict      (sources + tests + default data)
#   3. opa test -v             (every *_test.rego, with the default data.json)
#   4. opa test --coverage     (fails when any non-test .rego file is below $MIN_COVERAGE %, default 90)
#   5. check-samples.sh        (every samples/*.json gives its expected decision)
#
# Usage: bash scripts/opa/test-policies.sh     Env: MIN_COVERAGE=90, OPA=<path to opa>
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
ensure_opa
command -v jq >/dev/null || { echo "test-policies: jq is required" >&2; exit 1; }
min="${MIN_COVERAGE:-90}"
cd "$pkg"
ignore=(--ignore samples)

echo "== opa fmt --list"
unformatted="$("$opa" fmt --list policies "$opa_script_dir/check_samples.rego")"
if [[ -n "$unformatted" ]]; then
  echo "$unformatted" | sed 's/^/  not formatted: /' >&2
  echo "test-policies: run: .tools/bin/opa fmt -w packages/policies/policies" >&2
  exit 1
fi

echo "== opa check --strict"
"$opa" check --strict "${ignore[@]}" policies data/data.json

echo "== opa test -v"
"$opa" test -v "${ignore[@]}" policies data/data.json

echo "== opa test --coverage (minimum ${min}% per file)"
cov="$("$opa" test --coverage --format json "${ignore[@]}" policies data/data.json)"
jq -r --argjson min "$min" '
  (.files | to_entries | map(select(.key | endswith("_test.rego") | not)) | sort_by(.key)[]
    | "  \(if (.value.coverage // 0) < $min then "LOW " else "ok  " end)\(.value.coverage // 0 | . * 10 | round / 10)%  \(.key)"),
  "  total \(.coverage | . * 10 | round / 10)%"' <<<"$cov"
low="$(jq -r --argjson min "$min" '[.files | to_entries[] | select((.key | endswith("_test.rego") | not) and ((.value.coverage // 0) < $min)) | .key] | join(", ")' <<<"$cov")"
# Every non-test source must appear in the report (a file no test loads has no entry).
missing=""
while read -r f; do
  [[ "$f" == *.rego ]] || continue
  jq -e --arg f "$f" '.files | has($f)' <<<"$cov" >/dev/null || missing+="$f "
done < <(policy_sources)
if [[ -n "$low" || -n "$missing" ]]; then
  [[ -n "$low" ]] && echo "test-policies: coverage below ${min}%: $low" >&2
  [[ -n "$missing" ]] && echo "test-policies: no coverage reported for: $missing" >&2
  exit 1
fi

echo "== samples"
bash "$opa_script_dir/check-samples.sh"
