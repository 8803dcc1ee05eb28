// Runs every benchmark and writes results to bench/results/. Each benchmark reports ratios against
// a baseline measured in the same run, so numbers compare across machines; no test asserts times.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const only = process.argv.slice(2)
const benches = [
  { name: "core-interpreter", file: "bench/core-interpreter.bench.mjs" },
  { name: "planner", file: "bench/planner.bench.mjs" },
  { name: "policy", file: "packages/policies/bench/policy-bench.mjs" },
  { name: "docker", file: "packages/adapters-docker/bench/docker-bench.mjs" },
  { name: "k8s-daemonset", file: "packages/adapters-k8s/bench/daemonset-bench.mjs" }
]
fs.mkdirSync(path.join(root, "bench/results"), { recursive: true })
console.log(`sluice bench on Node ${process.version}`)
let failed = 0
for (const b of benches) {
  if (only.length > 0 && !only.includes(b.name)) continue
  const file = path.join(root, b.file)
  if (!fs.existsSync(file)) {
    console.log(`\n== ${b.name}: not present (${b.file}), skipped`)
    continue
  }
  console.log(`\n== ${b.name} (${b.file})`)
  const r = spawnSync(process.execPath, [file], { cwd: root, stdio: "inherit", env: process.env })
  if (r.status !== 0) {
    failed++
    console.log(`== ${b.name} FAILED with exit ${r.status}`)
  }
}
process.exit(failed === 0 ? 0 : 1)
