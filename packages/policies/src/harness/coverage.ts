import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Result, Schema } from "effect"
import type { CasesReport } from "./cases.js"
import { parseRego, RegoToolError, runOpa } from "./rego.js"

/**
 * `sluice policy test --coverage`: which lines and rules of the author's Rego the cases exercised.
 * The Wasm engine has no trace, so the same inputs (the exact documents the engine evaluated, kept
 * by the harness) go through `opa test --coverage` over the same sources and the same data; the
 * decisions of both must agree case by case, or the coverage would describe some other policy.
 */

export interface RuleCoverage {
  /** The rule's name (`deny`, `_effective`, `allow`). */
  readonly name: string
  readonly line: number
  /** Whether the rule produced a value for some case (opa marks its head covered). */
  readonly covered: boolean
}

export interface FileCoverage {
  /** The file as the report names it (the folder as given, joined with its path in it). */
  readonly file: string
  readonly coveredLines: ReadonlyArray<number>
  readonly notCoveredLines: ReadonlyArray<number>
  /** opa's per-file figure: covered / (covered + not covered) lines, in percent. */
  readonly percent: number
  readonly rules: ReadonlyArray<RuleCoverage>
}

export interface CoverageReport {
  readonly files: ReadonlyArray<FileCoverage>
  readonly coveredLines: number
  readonly notCoveredLines: number
  /** Over the author's files only (not the decision entrypoint and library the build adds). */
  readonly percent: number
  /** Cases whose input reached the Rego (a workload that does not normalize is denied before). */
  readonly casesEvaluated: number
}

export interface CoverageOptions {
  readonly opa: string
  /**
   * Every module the bundle is built from; those with a `label` are the author's and reported,
   * the others (the added entrypoint and library) are loaded only.
   */
  readonly modules: ReadonlyArray<{ readonly file: string; readonly label?: string }>
  /** The data the bundle evaluates with: its own data with the harness's `--data` merged over. */
  readonly data: unknown
  /** The cases' results on the bundle, run with `keepInputs`. */
  readonly report: CasesReport
  /** Default `sluice/decision`. */
  readonly entrypoint?: string
}

const Position = Schema.Struct({ row: Schema.Int })
const Range = Schema.Struct({ start: Position, end: Position })
const FileJson = Schema.Struct({
  covered: Schema.optional(Schema.Array(Range)),
  not_covered: Schema.optional(Schema.Array(Range)),
  covered_lines: Schema.optional(Schema.Int),
  not_covered_lines: Schema.optional(Schema.Int),
  coverage: Schema.optional(Schema.Finite)
})
const CoverageJson = Schema.Struct({ files: Schema.Record(Schema.String, FileJson) })
const decodeCoverage = Schema.decodeUnknownResult(CoverageJson)

const rows = (ranges: ReadonlyArray<typeof Range.Type> | undefined) => {
  const out = new Set<number>()
  for (const r of ranges ?? []) for (let row = r.start.row; row <= r.end.row; row++) out.add(row)
  return out
}

const ruleName = (rule: unknown): { name: string; line: number } | undefined => {
  if (typeof rule !== "object" || rule === null) return undefined
  const head = (rule as { head?: { ref?: ReadonlyArray<{ value?: unknown }>; location?: { row?: unknown } } }).head
  const ref = head?.ref
  const row = head?.location?.row
  if (!Array.isArray(ref) || typeof row !== "number") return undefined
  return {
    name: ref.map((p: { value?: unknown }) => (typeof p.value === "string" ? p.value : "[_]")).join("."),
    line: row
  }
}

const HARNESS_PACKAGE = "sluice_harness_coverage"

/**
 * A test module with one test per case: the decision opa computes for the case's input must have
 * the Wasm bundle's allow and rule ids. `opa test --coverage` (unlike `opa eval --coverage`, which
 * lists only what ran) reports the lines no case reached.
 */
const harnessTests = (count: number, entry: string) => {
  const lines = [`package ${HARNESS_PACKAGE}`, ""]
  for (let i = 0; i < count; i++) {
    lines.push(
      `test_case_${i} if {`,
      `	x := data.${HARNESS_PACKAGE}.cases[${i}]`,
      `	d := data.${entry} with input as x.input`,
      `	d.allow == x.allow`,
      `	{v.rule | some v in d.deny} == {r | some r in x.deny}`,
      `	{v.rule | some v in d.warn} == {r | some r in x.warn}`,
      "}",
      ""
    )
  }
  return lines.join("\n")
}

const TestResults = Schema.Array(Schema.Struct({ name: Schema.String, fail: Schema.optional(Schema.Boolean) }))
const decodeTestResults = Schema.decodeUnknownResult(TestResults)

export const policyCoverageEffect = Effect.fnUntraced(function* (options: CoverageOptions) {
  const entry = (options.entrypoint ?? "sluice/decision").split("/").join(".")
  const evaluated = options.report.results.filter((r) => r.input !== undefined)
  const work = yield* Effect.try({
    try: () => mkdtempSync(join(tmpdir(), "sluice-coverage-")),
    catch: (cause) => new RegoToolError({ message: "cannot create a temporary directory", cause })
  })
  const out = yield* Effect.gen(function* () {
    const testFile = join(work, "harness_test.rego")
    const casesFile = join(work, "cases.json")
    yield* Effect.try({
      try: () => {
        writeFileSync(join(work, "data.json"), JSON.stringify(options.data))
        writeFileSync(
          casesFile,
          JSON.stringify({
            [HARNESS_PACKAGE]: {
              cases: evaluated.map((r) => ({
                input: r.input,
                allow: r.decision?.allow,
                deny: r.decision?.deny.map((v) => v.rule) ?? [],
                warn: r.decision?.warn.map((v) => v.rule) ?? []
              }))
            }
          })
        )
        writeFileSync(testFile, harnessTests(evaluated.length, entry))
      },
      catch: (cause) => new RegoToolError({ message: "cannot write the coverage run's inputs", cause })
    })
    const args = [...options.modules.map((m) => m.file), join(work, "data.json"), casesFile, testFile]
    return yield* runOpa(options.opa, ["test", "--coverage", "--format", "json", ...args]).pipe(
      Effect.catch((e) =>
        // A failing test: opa's decision differs from the Wasm bundle's for some case. Run the
        // tests again without coverage to name the cases.
        runOpa(options.opa, ["test", "--format", "json", ...args]).pipe(
          Effect.map((text) => {
            const results = Result.getOrUndefined(decodeTestResults(JSON.parse(text) as unknown))
            return (results ?? []).filter((r) => r.fail === true).map((r) => r.name)
          }),
          Effect.catch(() => Effect.succeed<ReadonlyArray<string>>([])),
          Effect.flatMap((failed) => {
            const names = failed.map((n) => evaluated[Number(n.replace(/^.*test_case_/, ""))]?.name ?? n)
            return Effect.fail(
              new RegoToolError({
                message:
                  names.length > 0
                    ? `opa and the Wasm bundle disagree on ${names.map((n) => JSON.stringify(n)).join(", ")}, so the coverage would not describe what the cases ran`
                    : e.message,
                cause: e
              })
            )
          })
        )
      )
    )
  }).pipe(Effect.ensuring(Effect.sync(() => rmSync(work, { recursive: true, force: true }))))

  const parsed = yield* Effect.try({
    try: () => JSON.parse(out) as unknown,
    catch: (cause) => new RegoToolError({ message: "opa test --coverage: output is not JSON", cause })
  })
  const decoded = decodeCoverage(parsed)
  if (Result.isFailure(decoded)) {
    return yield* new RegoToolError({
      message: `opa test --coverage: unexpected output: ${decoded.failure.message}`,
      cause: decoded.failure
    })
  }
  const report = decoded.success

  const files: Array<FileCoverage> = []
  for (const m of options.modules) {
    if (m.label === undefined) continue
    const f = report.files[m.file]
    const covered = rows(f?.covered)
    const notCovered = rows(f?.not_covered)
    const ast = yield* parseRego(options.opa, m.file)
    const rules = ast.rules.flatMap((rule) => {
      const r = ruleName(rule)
      return r === undefined ? [] : [{ ...r, covered: covered.has(r.line) && !notCovered.has(r.line) }]
    })
    files.push({
      file: m.label,
      coveredLines: [...covered].sort((a, b) => a - b),
      notCoveredLines: [...notCovered].sort((a, b) => a - b),
      // A file opa reports nothing for was never evaluated: 0 %, never a pass by omission.
      percent: Math.round((f?.coverage ?? 0) * 10) / 10,
      rules
    })
  }
  const coveredLines = options.modules.reduce(
    (n, m) => n + (m.label === undefined ? 0 : (report.files[m.file]?.covered_lines ?? 0)),
    0
  )
  const notCoveredLines = options.modules.reduce(
    (n, m) => n + (m.label === undefined ? 0 : (report.files[m.file]?.not_covered_lines ?? 0)),
    0
  )
  const total = coveredLines + notCoveredLines
  return {
    files,
    coveredLines,
    notCoveredLines,
    percent: total === 0 ? 0 : Math.round((coveredLines / total) * 1000) / 10,
    casesEvaluated: evaluated.length
  } satisfies CoverageReport
})
