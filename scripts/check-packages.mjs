// Checks the @sluice/* packages as they would be published, each packed with `npm pack`:
//   - publint --strict (exports, files, types conditions; warnings count as errors),
//   - @arethetypeswrong/cli --pack --profile esm-only (every entry point's types resolve under
//     node16-ESM and bundler resolution; the packages are ESM only, so CommonJS `require` and
//     node10 resolution are out of scope).
// Needs dist/ built (`tsc -b`; `npm test` runs it in its typecheck phase first). Exit code:
// non-zero if any check failed. The packed-install test (tests/packaging) covers installing them.
import { spawnSync } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const bin = (name) => path.join(root, "node_modules/.bin", name)
const packages = ["core", "policies", "adapters-docker", "adapters-k8s"]

const failures = []
for (const p of packages) {
  const dir = path.join("packages", p)
  for (const [label, cmd, argv] of [
    ["publint", bin("publint"), ["run", dir, "--strict"]],
    ["attw", bin("attw"), ["--pack", dir, "--profile", "esm-only", "--format", "table-flipped", "--no-color"]]
  ]) {
    console.log(`==> packages: ${label} ${dir}`)
    const r = spawnSync(cmd, argv, { cwd: root, stdio: "inherit", env: process.env })
    if (r.error) console.error(`packages: ${label} ${dir}: ${r.error.message}`)
    if (r.status !== 0) failures.push(`${label} ${dir} (exit ${r.status ?? r.signal})`)
  }
}
if (failures.length > 0) {
  console.error(`packages: ${failures.length} check(s) failed: ${failures.join(", ")}`)
  process.exit(1)
}
console.log(`packages: publint and attw pass for ${packages.map((p) => `@sluice/${p}`).join(", ")}`)
