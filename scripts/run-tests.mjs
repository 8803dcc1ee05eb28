// Runs the vitest suite and ends with one plain summary line ("tests: N passed, N failed, N skipped")
// that CI can read whatever reporter is on screen. The real-Docker-engine project runs on its own,
// after the rest: its dockerd-restart test is timing-sensitive and the other projects (a Kubernetes
// control plane, 1,000-run property tests) load both cores. Exit code: non-zero if any phase failed.
// Prints each vitest run's wall time and, per project, the span from its first test file's start to
// its last one's end (with more than one vitest worker, projects' spans overlap; a run's wall time
// also holds global setups, such as adapters-k8s starting its control plane); appends them to
// $SLUICE_TIMINGS when set (.ci/run's summary table).
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

const root = path.resolve(import.meta.dirname, "..")
/** One line of $SLUICE_TIMINGS: level, name, seconds, exit status (tab-separated). */
const record = (level, name, seconds, status) => {
  if (process.env.SLUICE_TIMINGS)
    fs.appendFileSync(process.env.SLUICE_TIMINGS, `${level}\t${name}\t${seconds.toFixed(1)}\t${status}\n`)
}
/** A test file's vitest project: the `name` in the vitest.config.ts of its package (packages/x, examples/x). */
const projectNames = new Map()
const projectOf = (file) => {
  const dir = path.relative(root, file).split(path.sep).slice(0, 2).join("/")
  if (!projectNames.has(dir)) {
    let name = dir
    try {
      name = /\bname:\s*"([^"]+)"/.exec(fs.readFileSync(path.join(root, dir, "vitest.config.ts"), "utf8"))?.[1] ?? dir
    } catch {}
    projectNames.set(dir, name)
  }
  return projectNames.get(dir)
}
const describeRun = (args, i) =>
  extra.length > 0
    ? `vitest run ${args.join(" ")}`
    : i === 0
      ? `vitest run ${i + 1}/${phases.length}: every project but ${isolated.join(", ")}`
      : `vitest run ${i + 1}/${phases.length}: ${isolated.join(", ")}`

const totals = { passed: 0, failed: 0, skipped: 0, total: 0, missing: 0 }
let status = 0
for (const [i, args] of phases.entries()) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-vitest-")), "report.json")
  const t0 = performance.now()
  const r = spawnSync(
    process.execPath,
    [vitest, "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...args],
    { stdio: "inherit", env: process.env }
  )
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 0) status = r.status ?? 1
  const name = describeRun(args, i)
  console.log(
    `==> test: ${name} ${r.status === 0 ? "done in" : `FAILED (exit ${r.status}) after`} ${seconds.toFixed(1)}s`
  )
  if (!fs.existsSync(out)) {
    record(1, name, seconds, r.status ?? 1)
    totals.missing++
    continue
  }
  const report = JSON.parse(fs.readFileSync(out, "utf8"))
  const projects = new Map()
  for (const f of report.testResults ?? []) {
    const p = projectOf(f.name)
    const x = projects.get(p) ?? { files: 0, tests: 0, failed: 0, start: Infinity, end: -Infinity }
    x.files++
    x.tests += f.assertionResults?.length ?? 0
    const failedTests = (f.assertionResults ?? []).filter((a) => a.status === "failed").length
    // A file that failed outside its tests (an import error, a hook) counts as one failure.
    x.failed += failedTests > 0 ? failedTests : f.status === "failed" ? 1 : 0
    if (Number.isFinite(f.startTime)) x.start = Math.min(x.start, f.startTime)
    if (Number.isFinite(f.endTime)) x.end = Math.max(x.end, f.endTime)
    projects.set(p, x)
  }
  for (const [p, x] of [...projects].sort(([a], [b]) => a.localeCompare(b))) {
    const span = x.end > x.start ? (x.end - x.start) / 1000 : 0
    const label = `project ${p} (${x.files} file${x.files === 1 ? "" : "s"}, ${x.tests} tests${x.failed ? `, ${x.failed} failed` : ""})`
    console.log(`    ${label}: ${span.toFixed(1)}s from its first test file's start to its last one's end`)
    record(2, label, span, x.failed ? 1 : 0)
  }
  record(1, name, seconds, r.status ?? 1)
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
