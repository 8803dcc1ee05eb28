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
