#!/usr/bin/env bash
# Compiles the test policies under test/fixtures/rego/<name>/ into committed Wasm bundles under
# test/fixtures/bundles/<name>.tar.gz (so the tests need no opa at run time), plus an unpacked
# directory form of `basic` (policy.wasm + data.json + manifest.json) for the directory loader.
#
# Usage: bash packages/policies/scripts/build-test-bundles.sh   (needs .tools/bin/opa: bash scripts/opa/build-opa.sh)
set -euo pipefail
pkg="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(cd "$pkg/../.." && pwd)"
opa="${OPA:-$repo/.tools/bin/opa}"
[[ -x "$opa" ]] || { echo "build-test-bundles: $opa not found; run: bash scripts/opa/build-opa.sh" >&2; exit 1; }
src="$pkg/test/fixtures/rego"
out="$pkg/test/fixtures/bundles"
mkdir -p "$out"

build() { # name entrypoint revision
  local name="$1" entrypoint="$2" revision="$3"
  ( cd "$src/$name" && "$opa" build -t wasm -e "$entrypoint" --revision "$revision" -o "$out/$name.tar.gz" . )
  echo "built $out/$name.tar.gz" >&2
}

build basic sluice/decision basic-rev-1
build second sluice/decision second-rev-7
build wrong-entrypoint other/decision wrong-1
build conflict sluice/decision conflict-1
build builtin-missing sluice/decision builtin-1
build non-decision sluice/decision shape-1
build undefined sluice/decision undefined-1
build oom sluice/decision oom-1
build unexplained sluice/decision unexplained-1
build hang sluice/decision hang-1
build slow sluice/decision slow-1

# Directory form of `basic`, like packages/policies/dist.
rm -rf "$out/basic-dir"; mkdir -p "$out/basic-dir"
tar -xzf "$out/basic.tar.gz" -C "$out/basic-dir" /policy.wasm /data.json 2>/dev/null \
  || tar -xzf "$out/basic.tar.gz" -C "$out/basic-dir" policy.wasm data.json
printf '{"name":"basic-dir","revision":"basic-dir-rev-2"}\n' > "$out/basic-dir/manifest.json"
# Corrupt Wasm: a valid header followed by garbage.
printf '\0asm\1\0\0\0garbage-not-a-section' > "$out/corrupt.wasm"
echo "built $out/basic-dir, $out/corrupt.wasm" >&2
