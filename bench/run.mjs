// Runs every benchmark and writes results to bench/results/. Each benchmark reports ratios against
// a baseline measured in the same run, so numbers compare across machines; no test asserts times.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const only = process.argv.slice(2)
const benches = [
  { name: "core-interpreter", file: "bench/core-interpreter.bench.mjs" },
  { name: "planner", file: "bench/planner.bench.mjs" },
  { name: "spec-decode", file: "bench/spec-decode.bench.mjs" },
  { name: "policy", file: "packages/policies/bench/policy-bench.mjs" },
  { name: "docker", file: "packages/adapters-docker/bench/docker-bench.mjs" },
  { name: "k8s-daemonset", file: "packages/adapters-k8s/bench/daemonset-bench.mjs" }
]
// A signal goes to the running benchmark, which cleans up what it created (the Docker one removes
// its containers) and exits; then this exits too, with no further benchmark started.
let running
let interruptedBy
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    interruptedBy ??= signal
    // A terminal's Ctrl-C reaches the child directly (same process group); `kill` of this pid does not.
    running?.kill(signal)
  })
}
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
  const child = spawn(process.execPath, [file], { cwd: root, stdio: "inherit", env: process.env })
  running = child
  const status = await new Promise((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? 128 + (os.constants.signals[signal] ?? 0)))
  )
  running = undefined
  // A benchmark killed by a signal sent to it (or to the process group) stops the run too.
  const bySignal = Object.entries(os.constants.signals).find(
    ([name, n]) => ["SIGINT", "SIGTERM", "SIGHUP"].includes(name) && status === 128 + n
  )
  if (bySignal !== undefined) interruptedBy ??= bySignal[0]
  if (interruptedBy !== undefined) {
    console.log(`== ${b.name} interrupted by ${interruptedBy}; no further benchmark runs`)
    process.exit(128 + os.constants.signals[interruptedBy])
  }
  if (status !== 0) {
    failed++
    console.log(`== ${b.name} FAILED with exit ${status}`)
  }
}
process.exit(failed === 0 ? 0 : 1)
