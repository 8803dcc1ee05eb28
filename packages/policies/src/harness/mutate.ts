import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Schema } from "effect"
import {
  type CasesReport,
  type HarnessOptions,
  type PolicyCasesError,
  runPolicyCasesEffect,
  timedOut
} from "./cases.js"
import { applyMutant, generateMutants, type Mutant, type MutationOperator, sampleMutants } from "./mutants.js"
import { parseRego, type RegoTestOutcome, type RegoToolError, regoSources } from "./rego.js"

/**
 * `sluice policy test --mutate`: mutation testing of a policy author's Rego. Each mutant is the
 * folder with one edit, compiled the way the harness compiles the folder itself (opa build -t
 * wasm), then every case is run on it through the Wasm engine, exactly as without `--mutate`.
 */

/**
 * - `killed`: some case failed on the mutant (the cases notice the change), or one of the folder's
 *   own Rego tests did;
 * - `survived`: every case passed (the cases would not notice the policy broken this way);
 * - `invalid`: opa does not compile the mutant (not a policy; counted in no score);
 * - `error`: the mutant compiled but could not be evaluated (its bundle did not load, its cases did
 *   not finish in time, or the engine failed closed on some case, `engine/…`, and no case failed).
 *   Never counted as killed: the score is killed / (killed + survived + error).
 */
export type MutantStatus = "killed" | "survived" | "invalid" | "error"

export interface MutantResult extends Mutant {
  /** 1-based, in file order over every generated mutant (stable across runs of the same sources). */
  readonly id: number
  /** The file as the report names it: the folder as given, joined with the file's path in it. */
  readonly path: string
  readonly status: MutantStatus
  /** The first case that killed it, why it is invalid, or the error. */
  readonly detail?: string
}

export interface MutationReport {
  /** The folder's `*_test.rego` tests run on each mutant besides the cases (how many; 0: none). */
  readonly regoTests: number
  readonly generated: number
  /** How many of the generated mutants were run (at most `max`, spread over all of them). */
  readonly run: number
  readonly killed: number
  readonly survived: number
  readonly invalid: number
  readonly errors: number
  /** killed / (run − invalid), in percent, one decimal; `null` when no mutant compiled. */
  readonly score: number | null
  readonly byOperator: Readonly<Partial<Record<MutationOperator, { readonly run: number; readonly killed: number }>>>
  readonly mutants: ReadonlyArray<MutantResult>
}

/** The mutation run cannot go on (a file that cannot be copied, the unmutated cases failing, …). */
export class MutationError extends Schema.TaggedError<MutationError>()("MutationError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** What compiling a mutant gives: built, or opa's compile error (an invalid mutant). */
export type BuildOutcome = { readonly _tag: "built" } | { readonly _tag: "invalid"; readonly message: string }

export interface MutationOptions {
  readonly opa: string
  /** The author's folder of Rego sources. */
  readonly dir: string
  /** How reports name the folder (the path as the user gave it). Default: `dir`. */
  readonly label?: string
  readonly casesFile: string
  readonly harness?: HarnessOptions
  /**
   * Compiles a folder into a bundle at `out`. Infrastructure failures (no opa) fail the run;
   * a compile error is `invalid`.
   */
  readonly build: (dir: string, out: string) => Effect.Effect<BuildOutcome, RegoToolError>
  /**
   * Runs the folder's own Rego tests (`*_test.rego`, opa test) on a folder: a mutant some test
   * fails is killed too. Absent when the folder has none.
   */
  readonly regoTests?: (dir: string) => Effect.Effect<RegoTestOutcome, RegoToolError>
  /** The cases' result on the unmutated policy; every case must pass there. */
  readonly baseline: CasesReport
  /** Run at most this many mutants (default 200). */
  readonly max?: number
  /** Mutants built and run at once (default 2). */
  readonly jobs?: number
  /**
   * How long one case's evaluation may take on a mutant (default: 50 times the slowest case on the
   * unmutated policy, at least 30 s); the engine stops an evaluation still running then, and the
   * mutant is an error (it hangs the evaluation), never a pass. Its other cases are not run.
   */
  readonly timeoutMs?: number
}

const engineFailed = (r: CasesReport["results"][number]) =>
  r.decision === undefined || r.decision.deny.some((v) => v.rule.startsWith("engine/"))

const percent = (n: number, d: number) => (d === 0 ? null : Math.round((n / d) * 1000) / 10)

/** Every mutant of the folder's Rego sources (tests excluded), in file order. */
export const listMutants = Effect.fnUntraced(function* (opa: string, dir: string) {
  const all: Array<Mutant> = []
  for (const file of regoSources(dir)) all.push(...generateMutants(file, yield* parseRego(opa, join(dir, file))))
  return all
})

export const runMutationEffect = Effect.fnUntraced(function* (
  options: MutationOptions
): Effect.fn.Return<MutationReport, MutationError | RegoToolError | PolicyCasesError> {
  if (options.baseline.failed > 0) {
    return yield* new MutationError({
      message: `${options.baseline.failed} of ${options.baseline.total} cases fail on the unmutated policy: mutation testing needs passing cases`
    })
  }
  const label = options.label ?? options.dir
  let regoTests = 0
  if (options.regoTests !== undefined) {
    // The unmutated folder's tests must pass, or a failing test would "kill" every mutant.
    const base = yield* options.regoTests(options.dir)
    if (base._tag !== "passed") {
      return yield* new MutationError({
        message:
          base._tag === "failed"
            ? `the folder's Rego tests fail on the unmutated policy (${base.failed.join(", ")}): mutation testing needs passing tests`
            : `the folder's Rego tests cannot run: ${base.message}`
      })
    }
    regoTests = base.tests
  }
  const generated = yield* listMutants(options.opa, options.dir)
  const selected = sampleMutants(
    generated.map((m, i) => ({ ...m, id: i + 1, path: `${label.replace(/\/+$/, "")}/${m.file}` })),
    options.max ?? 200
  )
  const baselineErrors = options.baseline.results.map(engineFailed)
  const timeoutMs =
    options.timeoutMs ?? Math.max(30_000, 50 * options.baseline.results.reduce((t, r) => Math.max(t, r.durationMs), 0))

  const runOne = (mutant: Mutant & { readonly id: number; readonly path: string }) =>
    Effect.acquireUseRelease(
      Effect.try({
        try: () => mkdtempSync(join(tmpdir(), "sluice-mutant-")),
        catch: (cause) => new MutationError({ message: "cannot create a temporary directory", cause })
      }),
      (work) =>
        Effect.gen(function* () {
          const src = join(work, "src")
          yield* Effect.try({
            try: () => {
              cpSync(options.dir, src, { recursive: true })
              const file = join(src, mutant.file)
              writeFileSync(file, applyMutant(readFileSync(file), mutant))
            },
            catch: (cause) =>
              new MutationError({ message: `cannot write mutant ${mutant.id} of ${mutant.path}`, cause })
          })
          const out = join(work, "bundle.tar.gz")
          const built = yield* options.build(src, out)
          if (built._tag === "invalid") return { ...mutant, status: "invalid", detail: built.message } as MutantResult
          // The cases run here, in the engine's evaluation worker, which stops an evaluation past
          // the limit: opa's Wasm replace(s, "", x) never returns, so a mutant can hang it.
          const exit = yield* Effect.exit(
            runPolicyCasesEffect(out, options.casesFile, {
              ...options.harness,
              evaluationTimeoutMs: timeoutMs,
              stopAfterTimeout: true
            })
          )
          if (Exit.isFailure(exit)) {
            const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
            if (error?._tag === "BundleLoadError") {
              return {
                ...mutant,
                status: "error",
                detail: `the mutant's bundle does not load: ${error.message}`
              } as MutantResult
            }
            return yield* new MutationError({
              message: `cannot run the cases on mutant ${mutant.id}: ${error?.message ?? "interrupted"}`,
              cause: exit.cause
            })
          }
          const ran = exit.value
          const hung = ran.results.find((r) => timedOut(r.decision) !== undefined)
          if (hung !== undefined) {
            return {
              ...mutant,
              status: "error",
              detail: `${hung.name}: its evaluation did not finish within ${Math.round(timeoutMs / 1000)} s on this mutant (it hangs the engine)`
            } as MutantResult
          }
          const failed = ran.results.find((r) => !r.passed)
          if (failed !== undefined) {
            return { ...mutant, status: "killed", detail: failed.name } as MutantResult
          }
          if (options.regoTests !== undefined) {
            const tested = yield* options.regoTests(src)
            if (tested._tag === "failed") {
              return { ...mutant, status: "killed", detail: `opa test: ${tested.failed[0]}` } as MutantResult
            }
            if (tested._tag === "error") return { ...mutant, status: "error", detail: tested.message } as MutantResult
          }
          const crashed = ran.results.find((r, i) => engineFailed(r) && baselineErrors[i] !== true)
          if (crashed !== undefined) {
            const why = crashed.decision?.deny.find((v) => v.rule.startsWith("engine/"))
            return {
              ...mutant,
              status: "error",
              detail: `${crashed.name}: ${why === undefined ? "not evaluated" : `[${why.rule}] ${why.message}`}`
            } as MutantResult
          }
          return { ...mutant, status: "survived" } as MutantResult
        }),
      (work) => Effect.sync(() => rmSync(work, { recursive: true, force: true }))
    )

  const results = yield* Effect.forEach(selected, runOne, { concurrency: Math.max(1, options.jobs ?? 2) })
  const count = (s: MutantStatus) => results.filter((r) => r.status === s).length
  const byOperator: Partial<Record<MutationOperator, { run: number; killed: number }>> = {}
  for (const r of results) {
    if (r.status === "invalid") continue
    const entry = byOperator[r.operator] ?? { run: 0, killed: 0 }
    entry.run++
    if (r.status === "killed") entry.killed++
    byOperator[r.operator] = entry
  }
  const invalid = count("invalid")
  return {
    regoTests,
    generated: generated.length,
    run: results.length,
    killed: count("killed"),
    survived: count("survived"),
    invalid,
    errors: count("error"),
    score: percent(count("killed"), results.length - invalid),
    byOperator,
    mutants: results
  } satisfies MutationReport
})
