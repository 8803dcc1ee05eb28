import type { BundleInfo, EngineDecision, EngineViolation } from "../engine/evaluator.js"
import type { CasesReport } from "./cases.js"

const RULE = "-".repeat(80)

const ms = (d: number) => (d >= 100 ? `${d.toFixed(0)}ms` : d >= 10 ? `${d.toFixed(1)}ms` : `${d.toFixed(2)}ms`)

const bundleWarnings = (bundles: ReadonlyArray<BundleInfo>) =>
  bundles
    .filter((b) => b.status === "broken")
    .map((b) => `ERROR: bundle ${b.name} failed to load: ${b.error ?? "unknown error"}`)

/**
 * Formats case results like `opa test -v`: `PASS: name (1.2ms)` / `FAIL: name (0.4ms)` with the
 * reasons indented below, then a rule and the summary (`PASS: 5/6`, `FAIL: 1/6`). Without
 * `verbose`, passing cases are not listed (like `opa test`).
 */
export const formatCaseResults = (report: CasesReport, options: { readonly verbose?: boolean } = {}): string => {
  const verbose = options.verbose ?? true
  const lines: Array<string> = [...bundleWarnings(report.bundles)]
  lines.push(`${report.file}:`)
  for (const r of report.results) {
    if (r.passed && !verbose) continue
    lines.push(`${r.passed ? "PASS" : "FAIL"}: ${r.name} (${ms(r.durationMs)})`)
    for (const f of r.failures) lines.push(`  ${f}`)
  }
  lines.push(RULE)
  if (report.passed > 0 || report.total === 0) lines.push(`PASS: ${report.passed}/${report.total}`)
  if (report.failed > 0) lines.push(`FAIL: ${report.failed}/${report.total}`)
  return `${lines.join("\n")}\n`
}

const violation = (v: EngineViolation) =>
  `[${v.rule}] ${v.message}${v.container !== undefined ? ` (container ${v.container})` : ""}${v.bundle !== undefined ? ` {${v.bundle}}` : ""}`

/** A human-readable decision (`sluice policy eval` without `--json`). */
export const formatDecision = (decision: EngineDecision, bundles: ReadonlyArray<BundleInfo> = []): string => {
  const lines: Array<string> = [...bundleWarnings(bundles)]
  if (bundles.length > 0) lines.push(`bundles: ${bundles.map((b) => `${b.name}@${b.revision}`).join(", ")}`)
  lines.push(decision.allow ? "ALLOW" : "DENY")
  for (const v of decision.deny) lines.push(`  deny  ${violation(v)}`)
  for (const v of decision.warn) lines.push(`  warn  ${violation(v)}`)
  return `${lines.join("\n")}\n`
}

/** XML 1.0 text: the five special characters escaped, characters XML cannot carry replaced by U+FFFD. */
const xml = (text: string): string =>
  text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")

const seconds = (ms: number) => (ms / 1000).toFixed(6)

/**
 * The case results as JUnit XML (`sluice policy test --output junit`), for CI systems that read
 * test reports: one `testsuite` for the cases file, one `testcase` per case, a `failure` element
 * with every reason for a failing one; bundles that failed to load are listed in `system-err`.
 */
export const formatCaseResultsJUnit = (report: CasesReport): string => {
  const time = seconds(report.results.reduce((t, r) => t + r.durationMs, 0))
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="sluice policy test" tests="${report.total}" failures="${report.failed}" errors="0" time="${time}">`,
    `  <testsuite name="${xml(report.file)}" tests="${report.total}" failures="${report.failed}" errors="0" skipped="0" time="${time}">`
  ]
  for (const r of report.results) {
    const open = `    <testcase classname="${xml(report.file)}" name="${xml(r.name)}" time="${seconds(r.durationMs)}"`
    if (r.passed) {
      lines.push(`${open}/>`)
      continue
    }
    lines.push(`${open}>`)
    lines.push(`      <failure message="${xml(r.failures[0] ?? "failed")}">${xml(r.failures.join("\n"))}</failure>`)
    lines.push("    </testcase>")
  }
  const broken = bundleWarnings(report.bundles)
  if (broken.length > 0) lines.push(`    <system-err>${xml(broken.join("\n"))}</system-err>`)
  lines.push("  </testsuite>", "</testsuites>")
  return `${lines.join("\n")}\n`
}
