import { existsSync } from "node:fs"
import { readdir, stat } from "node:fs/promises"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { performance } from "node:perf_hooks"
import { type ScanReport, sha256Hex } from "@sluice/core"
import { Clock, Effect, Result, Schema, type Scope } from "effect"
import { type BundleLoadError, type BundleSource, loadBundle } from "../engine/bundle.js"
import {
  type BundleInfo,
  type EngineDecision,
  EngineRule,
  type EngineViolation,
  makeEvaluator,
  type PolicyEvaluator
} from "../engine/evaluator.js"
import { loadBundles } from "../engine/PolicyEngineLive.js"
import { formatRfc3339 } from "../normalize/index.js"
import {
  classifyInput,
  type HarnessInput,
  HarnessInputError,
  readDocument,
  readInputFile,
  readScanFile
} from "./inputs.js"

export interface HarnessOptions {
  /** Data (object or JSON/YAML file) deep-merged over every bundle's data. */
  readonly data?: unknown
  /** Evaluation time for cases that set none (RFC 3339). Default: the cases file's `now`, else the Clock. */
  readonly now?: string
  /** Keep the exact input each case evaluated on its result (`input`), for `--coverage`. */
  readonly keepInputs?: boolean
  /** How long one evaluation may take, in milliseconds (default: the engine's, 5 s). */
  readonly evaluationTimeoutMs?: number
  /**
   * Stop at the first case whose evaluation timed out; the cases after it fail unevaluated
   * (mutation testing: a mutant that hangs once is judged, and need not hang on every case).
   */
  readonly stopAfterTimeout?: boolean
}

const Expect = Schema.Struct({
  allow: Schema.Boolean,
  /** Each entry must match a deny violation by rule id or message substring. */
  deny: Schema.optional(Schema.Array(Schema.String)),
  /** Each entry must match a warn violation by rule id or message substring. */
  warn: Schema.optional(Schema.Array(Schema.String))
})

export const PolicyCase = Schema.Struct({
  name: Schema.String,
  /** Inline: a complete policy input (with `workload`), a Kubernetes object, a Docker inspect, or a normalized workload. */
  input: Schema.optional(Schema.Unknown),
  /** A Kubernetes manifest (YAML/JSON), a `docker inspect` JSON, or an input JSON; relative to the cases file. */
  inputFile: Schema.optional(Schema.String),
  /** Docker image inspect JSON for a Docker `inputFile` (the image's `Config.User`). */
  imageFile: Schema.optional(Schema.String),
  /** Trivy JSON report for the image (`input.scan`). */
  scanFile: Schema.optional(Schema.String),
  /** Evaluation time (RFC 3339) for this case. */
  now: Schema.optional(Schema.String),
  expect: Expect
})
export type PolicyCase = typeof PolicyCase.Type

export const PolicyCasesFile = Schema.Struct({
  now: Schema.optional(Schema.String),
  cases: Schema.Array(PolicyCase)
})

/** The cases file itself is unusable (unreadable, invalid YAML, wrong shape). */
export class PolicyCasesError extends Schema.TaggedError<PolicyCasesError>()("PolicyCasesError", {
  file: Schema.String,
  message: Schema.String
}) {}

export interface CaseResult {
  readonly name: string
  readonly passed: boolean
  /** Evaluation time (normalization + all bundles), milliseconds. */
  readonly durationMs: number
  /** Why it failed (empty when it passed). */
  readonly failures: ReadonlyArray<string>
  /** `undefined` when the case's input could not be read. */
  readonly decision: EngineDecision | undefined
  /**
   * The input evaluated, when `keepInputs` was asked (`undefined` otherwise, and when the workload
   * did not normalize: the engine denied before any Rego ran).
   */
  readonly input?: unknown
}

export interface CasesReport {
  readonly file: string
  readonly bundles: ReadonlyArray<BundleInfo>
  readonly results: ReadonlyArray<CaseResult>
  readonly passed: number
  readonly failed: number
  readonly total: number
}

export interface EvalResult {
  readonly decision: EngineDecision
  /** The exact input evaluated (`undefined` when the workload could not be normalized). */
  readonly input: unknown
  readonly inputSha256: string
  readonly bundles: ReadonlyArray<BundleInfo>
}

const toSources = (bundlePaths: string | ReadonlyArray<string>, data: unknown): Array<BundleSource> =>
  (typeof bundlePaths === "string" ? [bundlePaths] : [...bundlePaths]).map((path) =>
    data === undefined ? path : { path, data }
  )

/**
 * A directory that is not itself a bundle (no `policy.wasm`) but holds bundles (`*.tar.gz`,
 * `*.tgz`, or subdirectories with a `policy.wasm`) stands for all of them, in name order.
 */
export const expandBundlePaths = Effect.fnUntraced(function* (bundlePaths: string | ReadonlyArray<string>) {
  const out: Array<string> = []
  for (const path of typeof bundlePaths === "string" ? [bundlePaths] : bundlePaths) {
    const entries = yield* Effect.promise(async () => {
      try {
        if (!(await stat(path)).isDirectory() || existsSync(join(path, "policy.wasm"))) return undefined
        const names = (await readdir(path)).sort()
        return names
          .filter((n) => /\.(tar\.gz|tgz)$/.test(n) || existsSync(join(path, n, "policy.wasm")))
          .map((n) => join(path, n))
      } catch {
        return undefined
      }
    })
    out.push(...(entries !== undefined && entries.length > 0 ? entries : [path]))
  }
  return out
})

/** An evaluator whose worker stops with the scope. */
const scoped = (make: () => PolicyEvaluator) =>
  Effect.acquireRelease(Effect.sync(make), (e) => Effect.sync(() => e.close()))

/**
 * Loads the bundles for the harness (failed loads become denying bundles, listed in `bundles`).
 * The caller closes it (`close()`: it stops the evaluation worker).
 */
export const loadEvaluator = Effect.fnUntraced(function* (
  bundlePaths: string | ReadonlyArray<string>,
  data?: unknown,
  evaluationTimeoutMs?: number
) {
  const loaded = yield* loadBundles(toSources(yield* expandBundlePaths(bundlePaths), data))
  return makeEvaluator(loaded, evaluationTimeoutMs === undefined ? {} : { evaluationTimeoutMs })
})

/**
 * Loads the bundles or fails with the first load error. Testing a bundle that did not load tests
 * nothing: fail closed would deny every input, so every case expecting a deny would pass.
 */
const loadEvaluatorOrFail = Effect.fnUntraced(function* (
  bundlePaths: string | ReadonlyArray<string>,
  data: unknown,
  evaluationTimeoutMs: number | undefined
): Effect.fn.Return<PolicyEvaluator, BundleLoadError, Scope.Scope> {
  const sources = toSources(yield* expandBundlePaths(bundlePaths), data)
  const loaded = yield* Effect.forEach(sources, (source) => loadBundle(source))
  return yield* scoped(() => makeEvaluator(loaded, evaluationTimeoutMs === undefined ? {} : { evaluationTimeoutMs }))
})

const parseNow = (now: string, where: string) => {
  const ms = Date.parse(now)
  return Number.isNaN(ms)
    ? Effect.fail(
        new HarnessInputError({ message: `${where}: invalid now ${JSON.stringify(now)} (expected RFC 3339)` })
      )
    : Effect.succeed(ms)
}

/** Evaluates one harness input: complete inputs as they are (plus `now`), workloads normalized. */
const evaluateHarnessInput = (
  evaluator: PolicyEvaluator,
  input: HarnessInput,
  scan: ScanReport | undefined,
  epochMillis: number
) => {
  if (input.kind === "source") return evaluator.evaluateRequestEffect({ workload: input.source, scan }, epochMillis)
  const full: Record<string, unknown> = { ...input.input }
  if (scan !== undefined && !("scan" in full)) full.scan = scan.raw
  if (!("now" in full)) full.now = formatRfc3339(epochMillis)
  const json = JSON.stringify(full)
  return evaluator.evaluateJsonEffect(json).pipe(
    Effect.map((decision) => ({
      decision,
      // The bytes evaluated, as the engine's own inputSha256 is (not a canonical form).
      inputSha256: sha256Hex(json),
      input: full
    }))
  )
}

/** The evaluation was stopped at its time limit (or the worker did not start). */
export const timedOut = (decision: EngineDecision | undefined): EngineViolation | undefined =>
  decision?.deny.find((v) => v.rule === EngineRule.timeout)

const matches = (violations: ReadonlyArray<EngineViolation>, expected: string) =>
  violations.some((v) => v.rule === expected || v.message.includes(expected))

const describeViolations = (vs: ReadonlyArray<EngineViolation>) =>
  vs.length === 0 ? "none" : vs.map((v) => `[${v.rule}] ${v.message}`).join("; ")

/** Checks a decision against a case's expectations; returns the failures (empty = pass). */
export const checkExpectations = (decision: EngineDecision, expect: PolicyCase["expect"]): Array<string> => {
  const failures: Array<string> = []
  if (decision.allow !== expect.allow) {
    failures.push(
      `expected allow=${expect.allow}, got allow=${decision.allow} (deny: ${describeViolations(decision.deny)})`
    )
  }
  for (const e of expect.deny ?? []) {
    if (!matches(decision.deny, e))
      failures.push(`expected a deny matching "${e}", got: ${describeViolations(decision.deny)}`)
  }
  for (const e of expect.warn ?? []) {
    if (!matches(decision.warn, e))
      failures.push(`expected a warn matching "${e}", got: ${describeViolations(decision.warn)}`)
  }
  return failures
}

const decodeCasesFile = Schema.decodeUnknownResult(PolicyCasesFile, { errors: "all" })

/** Reads and validates a cases file. */
export const readCasesFile = Effect.fnUntraced(function* (casesFile: string) {
  const doc = yield* readDocument(casesFile).pipe(
    Effect.mapError((e) => new PolicyCasesError({ file: casesFile, message: e.message }))
  )
  const decoded = decodeCasesFile(doc)
  if (Result.isFailure(decoded)) {
    return yield* new PolicyCasesError({ file: casesFile, message: decoded.failure.message })
  }
  const problems = decoded.success.cases.flatMap((c, i) =>
    (c.input === undefined) === (c.inputFile === undefined)
      ? [`cases[${i}] (${c.name}): give exactly one of input or inputFile`]
      : []
  )
  if (problems.length > 0) return yield* new PolicyCasesError({ file: casesFile, message: problems.join("\n") })
  return decoded.success
})

/**
 * Runs every case of a YAML cases file against the bundles. Fails with `BundleLoadError` when a
 * bundle cannot be loaded (no case is run: their results would say nothing about the policy).
 */
export const runPolicyCasesEffect = (
  bundlePaths: string | ReadonlyArray<string>,
  casesFile: string,
  options: HarnessOptions = {}
): Effect.Effect<CasesReport, PolicyCasesError | BundleLoadError> =>
  Effect.scoped(runCases(bundlePaths, casesFile, options))

const runCases = Effect.fnUntraced(function* (
  bundlePaths: string | ReadonlyArray<string>,
  casesFile: string,
  options: HarnessOptions
): Effect.fn.Return<CasesReport, PolicyCasesError | BundleLoadError, Scope.Scope> {
  const file = yield* readCasesFile(casesFile)
  const evaluator = yield* loadEvaluatorOrFail(bundlePaths, options.data, options.evaluationTimeoutMs)
  const base = dirname(casesFile)
  const rel = (p: string) => (isAbsolute(p) ? p : resolve(base, p))
  const clockNow = yield* Clock.currentTimeMillis
  yield* evaluator.start
  const results: Array<CaseResult> = []
  let stoppedBy: string | undefined
  for (const c of file.cases) {
    if (stoppedBy !== undefined) {
      results.push({
        name: c.name,
        passed: false,
        durationMs: 0,
        failures: [`not evaluated: the evaluation of "${stoppedBy}" timed out`],
        decision: undefined
      })
      continue
    }
    const run = Effect.gen(function* () {
      const nowText = c.now ?? options.now ?? file.now
      const now = nowText !== undefined ? yield* parseNow(nowText, c.name) : clockNow
      const input =
        c.inputFile !== undefined
          ? yield* readInputFile(rel(c.inputFile), c.imageFile !== undefined ? rel(c.imageFile) : undefined)
          : yield* Effect.fromResult(classifyInput(c.input, undefined, undefined))
      const scan = c.scanFile !== undefined ? yield* readScanFile(rel(c.scanFile)) : undefined
      const started = performance.now()
      const evaluated = yield* evaluateHarnessInput(evaluator, input, scan, now)
      const durationMs = performance.now() - started
      const { decision } = evaluated
      // A stopped evaluation denies (fail closed), but says nothing of the policy: the case fails,
      // whatever it expected.
      const stopped = timedOut(decision)
      const failures =
        stopped === undefined ? checkExpectations(decision, c.expect) : [`[${stopped.rule}] ${stopped.message}`]
      return {
        name: c.name,
        passed: failures.length === 0,
        durationMs,
        failures,
        decision,
        ...(options.keepInputs === true && evaluated.input !== undefined ? { input: evaluated.input } : {})
      } satisfies CaseResult
    })
    results.push(
      yield* run.pipe(
        Effect.catch((e) =>
          Effect.succeed({
            name: c.name,
            passed: false,
            durationMs: 0,
            failures: [`${e.file !== undefined ? `${e.file}: ` : ""}${e.message}`],
            decision: undefined
          } satisfies CaseResult)
        )
      )
    )
    if (options.stopAfterTimeout === true && timedOut(results.at(-1)?.decision) !== undefined) stoppedBy = c.name
  }
  const passed = results.filter((r) => r.passed).length
  return {
    file: casesFile,
    bundles: evaluator.bundles,
    results,
    passed,
    failed: results.length - passed,
    total: results.length
  }
})

/** Evaluates one input file (Kubernetes manifest, docker inspect JSON, or policy input JSON). */
export const evalPolicyEffect = Effect.fnUntraced(function* (
  bundlePaths: string | ReadonlyArray<string>,
  inputPath: string,
  options: HarnessOptions & { readonly imageFile?: string; readonly scanFile?: string } = {}
): Effect.fn.Return<EvalResult, HarnessInputError> {
  const input = yield* readInputFile(inputPath, options.imageFile)
  const scan = options.scanFile !== undefined ? yield* readScanFile(options.scanFile) : undefined
  const now = options.now !== undefined ? yield* parseNow(options.now, "--now") : yield* Clock.currentTimeMillis
  return yield* Effect.acquireUseRelease(
    loadEvaluator(bundlePaths, options.data, options.evaluationTimeoutMs),
    (evaluator) =>
      evaluateHarnessInput(evaluator, input, scan, now).pipe(
        Effect.map(({ decision, input: evaluated, inputSha256 }) => ({
          decision,
          input: evaluated,
          inputSha256,
          bundles: evaluator.bundles
        }))
      ),
    (evaluator) => Effect.sync(() => evaluator.close())
  )
})

/**
 * `sluice policy test <bundle-or-dir> <cases>`: runs a YAML cases file. Rejects when the cases file
 * is unusable (`PolicyCasesError`) or a bundle cannot be loaded (`BundleLoadError`).
 */
export const runPolicyCases = (
  bundlePaths: string | ReadonlyArray<string>,
  casesFile: string,
  options: HarnessOptions = {}
): Promise<CasesReport> => Effect.runPromise(runPolicyCasesEffect(bundlePaths, casesFile, options))

/** `sluice policy eval <bundle> <input>`: evaluates one input file. */
export const evalPolicy = (
  bundlePaths: string | ReadonlyArray<string>,
  inputPath: string,
  options: HarnessOptions & { readonly imageFile?: string; readonly scanFile?: string } = {}
): Promise<EvalResult> => Effect.runPromise(evalPolicyEffect(bundlePaths, inputPath, options))
