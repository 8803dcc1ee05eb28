# Shared by the scripts/opa/*.sh scripts (sourced).
# shellcheck shell=bash
opa_script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$opa_script_dir/../.." && pwd)"
pkg="$repo/packages/policies"
# shellcheck source=opa.env
source "$opa_script_dir/opa.env"
ENTRYPOINT="sluice/decision"

# ensure_opa: sets $opa to the pinned opa CLI (honours $OPA), building/copying it if needed.
ensure_opa() {
  if [[ -n "${OPA:-}" ]]; then opa="$OPA"; return; fi
  opa="$repo/.tools/bin/opa"
  if [[ ! -x "$opa" ]] || [[ "$("$opa" version 2>/dev/null | awk -F': ' '$1=="Version"{print $2; exit}')" != "${OPA_VERSION#v}" ]]; then
    bash "$opa_script_dir/build-opa.sh" >&2
  fi
}

# policy_sources: the bundle's sources, relative to packages/policies, one per line, sorted
# bytewise: every *.rego under policies/ except *_test.rego and samples/, plus data/data.json.
policy_sources() {
  ( cd "$pkg" && { find policies -name samples -prune -o -type f -name '*.rego' ! -name '*_test.rego' -print; echo data/data.json; } | LC_ALL=C sort )
}

# sources_sha256: sha256 of the `sha256sum` listing ("<hex>  <path>\n" per source, in
# policy_sources order), i.e.  cd packages/policies && sha256sum $(policy_sources) | sha256sum
sources_sha256() {
  ( cd "$pkg" && policy_sources | tr '\n' '\0' | xargs -0 sha256sum | sha256sum | cut -d' ' -f1 )
}
