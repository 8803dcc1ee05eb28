import type { BundleInfo, EngineDecision, EngineViolation } from "../engine/evaluator.js"
import type { CasesReport } from "./cases.js"
import type { CoverageReport } from "./coverage.js"
import type { MutationReport } from "./mutate.js"

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

/** Line numbers as ranges: `3, 7-9, 12`. */
export const formatLines = (lines: ReadonlyArray<number>): string => {
  const out: Array<string> = []
  let i = 0
  while (i < lines.length) {
    let j = i
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++
    out.push(i === j ? String(lines[i]) : `${lines[i]}-${lines[j]}`)
    i = j + 1
  }
  return out.join(", ")
}

const pct = (p: number) => `${p.toFixed(1)}%`

/**
 * The coverage section of `policy test --coverage`: the total, then per file its percentage, the
 * lines no case reached (as opa reports them: a rule head is "not covered" when the rule never
 * produced a value) and the rules that never fired.
 */
export const formatCoverage = (coverage: CoverageReport, min?: number): string => {
  const lines = [
    `coverage: ${pct(coverage.percent)} (${coverage.coveredLines}/${coverage.coveredLines + coverage.notCoveredLines} lines, ${coverage.casesEvaluated} case${coverage.casesEvaluated === 1 ? "" : "s"})${min === undefined ? "" : coverage.percent < min ? ` FAIL: below --coverage-min ${min}%` : ` ok (--coverage-min ${min}%)`}`
  ]
  for (const f of coverage.files) {
    lines.push(`  ${pct(f.percent).padStart(6)}  ${f.file}`)
    if (f.notCoveredLines.length > 0) lines.push(`          not covered: lines ${formatLines(f.notCoveredLines)}`)
    const idle = f.rules.filter((r) => !r.covered)
    if (idle.length > 0)
      lines.push(`          never fired: ${idle.map((r) => `${r.name} (line ${r.line})`).join(", ")}`)
  }
  return `${lines.join("\n")}\n`
}

/** `negate-comparison  >= → <` (one line; a long original is cut, newlines shown as ⏎). */
export const describeMutant = (m: {
  readonly operator: string
  readonly original: string
  readonly replacement: string
}) => {
  const short = (t: string) => {
    const one = t.replace(/\s*\n\s*/g, " ⏎ ")
    return one.length > 70 ? `${one.slice(0, 67)}...` : one
  }
  return `${m.operator}: ${short(m.original)} → ${short(m.replacement)}`
}

/**
 * The mutation section of `policy test --mutate`: the score, the counts, then every surviving
 * mutant as `file:line:column  operator: original → replacement`, and the mutants that could not
 * be evaluated (errors).
 */
export const formatMutation = (mutation: MutationReport, min?: number): string => {
  const score = mutation.score === null ? "n/a (no mutant compiled)" : pct(mutation.score)
  const verdict =
    min === undefined
      ? ""
      : mutation.score === null || mutation.score < min
        ? ` FAIL: below --mutate-min ${min}%`
        : ` ok (--mutate-min ${min}%)`
  const lines = [
    `mutation score: ${score}${verdict} (${mutation.killed} killed, ${mutation.survived} survived, ${mutation.errors} error${mutation.errors === 1 ? "" : "s"}, ${mutation.invalid} invalid; ${mutation.run} of ${mutation.generated} mutants run${mutation.regoTests > 0 ? `; killed by a case or one of the folder's ${mutation.regoTests} opa tests` : ""})`
  ]
  const survivors = mutation.mutants.filter((m) => m.status === "survived")
  if (survivors.length > 0) lines.push("survived (no case fails when the policy is changed this way):")
  for (const m of survivors) lines.push(`  ${m.path}:${m.line}:${m.column}  ${describeMutant(m)}`)
  const errors = mutation.mutants.filter((m) => m.status === "error")
  if (errors.length > 0) lines.push("errors (the mutant could not be evaluated; counted as not killed):")
  for (const m of errors) lines.push(`  ${m.path}:${m.line}:${m.column}  ${describeMutant(m)}  [${m.detail ?? ""}]`)
  return `${lines.join("\n")}\n`
}

export interface JUnitExtras {
  readonly coverage?: CoverageReport
  readonly coverageMin?: number
  readonly mutation?: MutationReport
}

const coverageSuite = (coverage: CoverageReport, min: number | undefined): Array<string> => {
  const below = (p: number) => min !== undefined && p < min
  const failures = (below(coverage.percent) ? 1 : 0) + coverage.files.filter((f) => below(f.percent)).length
  const lines = [
    `  <testsuite name="coverage" tests="${coverage.files.length + 1}" failures="${failures}" errors="0" skipped="0" time="0">`
  ]
  const testcase = (name: string, p: number, detail: string) => {
    const open = `    <testcase classname="coverage" name="${xml(name)}" time="0"`
    if (!below(p)) return [`${open}>`, `      <system-out>${xml(detail)}</system-out>`, "    </testcase>"]
    return [
      `${open}>`,
      `      <failure message="${xml(`coverage ${pct(p)} is below --coverage-min ${min}%`)}">${xml(detail)}</failure>`,
      "    </testcase>"
    ]
  }
  lines.push(...testcase("total", coverage.percent, `${pct(coverage.percent)} of the lines`))
  for (const f of coverage.files) {
    const idle = f.rules.filter((r) => !r.covered).map((r) => `${r.name} (line ${r.line})`)
    lines.push(
      ...testcase(
        f.file,
        f.percent,
        `${pct(f.percent)}; not covered: lines ${formatLines(f.notCoveredLines) || "none"}; never fired: ${idle.join(", ") || "none"}`
      )
    )
  }
  lines.push("  </testsuite>")
  return lines
}

const mutationSuite = (mutation: MutationReport): Array<string> => {
  const lines = [
    `  <testsuite name="mutation" tests="${mutation.run}" failures="${mutation.survived}" errors="${mutation.errors}" skipped="${mutation.invalid}" time="0">`
  ]
  for (const m of mutation.mutants) {
    const open = `    <testcase classname="mutation" name="${xml(`${m.path}:${m.line}:${m.column} ${describeMutant(m)}`)}" time="0"`
    if (m.status === "killed") lines.push(`${open}/>`)
    else if (m.status === "survived")
      lines.push(`${open}>`, `      <failure message="survived: no case fails on this mutant"/>`, "    </testcase>")
    else if (m.status === "error")
      lines.push(`${open}>`, `      <error message="${xml(m.detail ?? "could not be evaluated")}"/>`, "    </testcase>")
    else
      lines.push(
        `${open}>`,
        `      <skipped message="${xml(`invalid: ${m.detail ?? "does not compile"}`)}"/>`,
        "    </testcase>"
      )
  }
  lines.push("  </testsuite>")
  return lines
}

/**
 * The case results as JUnit XML (`sluice policy test --output junit`), for CI systems that read
 * test reports: one `testsuite` for the cases file, one `testcase` per case, a `failure` element
 * with every reason for a failing one; bundles that failed to load are listed in `system-err`.
 * With `--coverage`, a `coverage` suite (a testcase per file, failing below `--coverage-min`);
 * with `--mutate`, a `mutation` suite (a testcase per mutant: survivors fail, invalid ones skip).
 */
export const formatCaseResultsJUnit = (report: CasesReport, extras: JUnitExtras = {}): string => {
  const time = seconds(report.results.reduce((t, r) => t + r.durationMs, 0))
  const coverage = extras.coverage === undefined ? [] : coverageSuite(extras.coverage, extras.coverageMin)
  const mutation = extras.mutation === undefined ? [] : mutationSuite(extras.mutation)
  const tests =
    report.total + (extras.coverage === undefined ? 0 : extras.coverage.files.length + 1) + (extras.mutation?.run ?? 0)
  const below = (p: number) => extras.coverageMin !== undefined && p < extras.coverageMin
  const failures =
    report.failed +
    (extras.coverage === undefined
      ? 0
      : (below(extras.coverage.percent) ? 1 : 0) + extras.coverage.files.filter((f) => below(f.percent)).length) +
    (extras.mutation?.survived ?? 0)
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="sluice policy test" tests="${tests}" failures="${failures}" errors="${extras.mutation?.errors ?? 0}" time="${time}">`,
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
  lines.push("  </testsuite>", ...coverage, ...mutation, "</testsuites>")
  return `${lines.join("\n")}\n`
}
