// `npm test`: type-check (tsc -b, then the test sources), lint (biome check .), check the packages as
// published (scripts/check-packages.mjs: publint, attw), then every vitest
// project (scripts/run-tests.mjs, which gets this script's arguments), stopping at the first failure
// with its exit code — the same commands the `&&` chain ran before, each phase timed. Prints each
// phase's wall time and appends it to $SLUICE_TIMINGS when set (.ci/run's summary table).
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const bin = (name) => path.join(root, "node_modules/.bin", name)
const args = process.argv.slice(2)

const phases = [
  {
    name: "typecheck",
    commands: [
      [bin("tsc"), ["-b"]],
      [bin("tsc"), ["-p", "tsconfig.test.json"]]
    ]
  },
  { name: "lint", commands: [[bin("biome"), ["check", "."]]] },
  // publint and @arethetypeswrong/cli on each @sluice/* package as packed (needs the dist/ just built).
  { name: "packages", commands: [[process.execPath, [path.join(root, "scripts/check-packages.mjs")]]] },
  // The Go builds that `npm run test:full`'s setup left running (scripts/go-tools.sh): waited for
  // here, after the phases that need none of them.
  ...(fs.existsSync(path.join(root, ".tools/logs/.pending"))
    ? [{ name: "wait for the Go builds", commands: [["bash", [path.join(root, "scripts/go-tools.sh"), "wait"]]] }]
    : []),
  { name: "tests", commands: [[process.execPath, [path.join(root, "scripts/run-tests.mjs"), ...args]]] }
]

/** One line of $SLUICE_TIMINGS: level, name, seconds, exit status (tab-separated). */
const record = (level, name, seconds, status) => {
  if (process.env.SLUICE_TIMINGS)
    fs.appendFileSync(process.env.SLUICE_TIMINGS, `${level}\t${name}\t${seconds.toFixed(1)}\t${status}\n`)
}

for (const phase of phases) {
  const t0 = performance.now()
  let status = 0
  for (const [cmd, argv] of phase.commands) {
    const r = spawnSync(cmd, argv, { cwd: root, stdio: "inherit", env: process.env })
    status = r.status ?? 1
    if (r.error) console.error(`test: ${phase.name}: ${r.error.message}`)
    if (status !== 0) break
  }
  const seconds = (performance.now() - t0) / 1000
  record(0, phase.name, seconds, status)
  console.log(
    status === 0
      ? `==> test: ${phase.name} done in ${seconds.toFixed(1)}s`
      : `==> test: ${phase.name} FAILED (exit ${status}) after ${seconds.toFixed(1)}s`
  )
  if (status !== 0) process.exit(status)
}
