// Runs the vitest suite and ends with one plain summary line ("tests: N passed, N failed, N skipped")
// that CI can read whatever reporter is on screen. The real-Docker-engine project runs on its own,
// after the rest: its dockerd-restart test is timing-sensitive and the other projects (a Kubernetes
// control plane, 1,000-run property tests) load both cores. Exit code: non-zero if any phase failed.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const vitest = path.resolve(import.meta.dirname, "../node_modules/vitest/vitest.mjs")
const extra = process.argv.slice(2)
const isolated = ["adapters-docker"]
// A caller naming projects or files gets exactly that, in one run. Otherwise: every project but the
// isolated ones (by negation, so a new project cannot be left out), then the isolated ones.
const phases =
  extra.length > 0
    ? [extra]
    : [isolated.flatMap((p) => ["--project", `!${p}`]), isolated.flatMap((p) => ["--project", p])]

const totals = { passed: 0, failed: 0, skipped: 0, total: 0, missing: 0 }
let status = 0
for (const args of phases) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-vitest-")), "report.json")
  const r = spawnSync(
    process.execPath,
    [vitest, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...args],
    { stdio: "inherit", env: process.env }
  )
  if (r.status !== 0) status = r.status ?? 1
  if (!fs.existsSync(out)) {
    totals.missing++
    continue
  }
  const report = JSON.parse(fs.readFileSync(out, "utf8"))
  totals.passed += report.numPassedTests ?? 0
  totals.failed += report.numFailedTests ?? 0
  totals.skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  totals.total += report.numTotalTests ?? 0
}
let summary = `tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`
if (totals.missing > 0) summary += ` (${totals.missing} phase(s) wrote no report)`
if (totals.total === 0) summary += " (no tests ran)"
console.log(summary)
process.exit(totals.missing > 0 && status === 0 ? 1 : status)
