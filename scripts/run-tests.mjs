// Runs the vitest suite and ends with one plain summary line ("tests: N passed, N failed, N skipped")
// that CI can read whatever reporter is on screen. Exit code is vitest's.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-vitest-")), "report.json")
const vitest = path.resolve(import.meta.dirname, "../node_modules/vitest/vitest.mjs")
const args = [
  vitest,
  "run",
  "--reporter=default",
  "--reporter=json",
  `--outputFile.json=${out}`,
  ...process.argv.slice(2)
]
const r = spawnSync(process.execPath, args, { stdio: "inherit", env: process.env })
let summary = "tests: no report written"
if (fs.existsSync(out)) {
  const report = JSON.parse(fs.readFileSync(out, "utf8"))
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
  summary = `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`
  if (report.numTotalTests === 0) summary += " (no tests ran)"
}
console.log(summary)
process.exit(r.status ?? 1)
