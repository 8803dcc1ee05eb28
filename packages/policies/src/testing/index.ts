/**
 * `@sluice/policies/testing`: load a bundle and assert its decisions, plus fast-check arbitraries
 * for workloads and scan reports (needs the optional peer dependency `fast-check`).
 */
import { AssertionError } from "node:assert"
import type { ScanReport, WorkloadSource } from "@sluice/core"
import { Effect, Result } from "effect"
import type { BundleOptions, BundleSource } from "../engine/bundle.js"
import { builtinBundleDir } from "../engine/bundle.js"
import type { EngineDecision, EngineViolation, PolicyEvaluator } from "../engine/evaluator.js"
import { makeEvaluator } from "../engine/evaluator.js"
import { loadBundles } from "../engine/PolicyEngineLive.js"
import { classifyInput } from "../harness/inputs.js"

export * as arbitraries from "./arbitraries.js"
export { builtinBundleDir }

/**
 * What the helpers accept: a complete policy input (it has `workload`), a {@link WorkloadSource}
 * (`{source: "kubernetes" | "docker" | "normalized", ...}`), or a bare Kubernetes object, Docker
 * container inspect or normalized workload.
 */
export type PolicySubject = unknown

export interface EvaluateOptions {
  /** Scan report for workload subjects (complete inputs carry their own `scan`). */
  readonly scan?: ScanReport
  /** Evaluation time; default `2026-01-01T00:00:00Z` so tests are deterministic. */
  readonly now?: string | number
}

export interface PolicyUnderTest {
  readonly evaluator: PolicyEvaluator
  /** Evaluates a subject; never throws (the engine fails closed). */
  readonly evaluate: (subject: PolicySubject, options?: EvaluateOptions) => EngineDecision
  /** Throws unless the decision allows. Returns the decision (warnings may be checked further). */
  readonly expectAllowed: (subject: PolicySubject, options?: EvaluateOptions) => EngineDecision
  /**
   * Throws unless the decision denies with a violation matching every `rule` (rule id, or a
   * substring of the message). With no rule, any deny passes.
   */
  readonly expectDenied: (
    subject: PolicySubject,
    rule?: string | ReadonlyArray<string>,
    options?: EvaluateOptions
  ) => EngineDecision
  /** Throws unless a warning matches every `rule` (rule id or message substring). */
  readonly expectWarned: (
    subject: PolicySubject,
    rule: string | ReadonlyArray<string>,
    options?: EvaluateOptions
  ) => EngineDecision
}

const DEFAULT_NOW = Date.parse("2026-01-01T00:00:00Z")

const isWorkloadSource = (u: unknown): u is WorkloadSource =>
  typeof u === "object" &&
  u !== null &&
  "source" in u &&
  ["kubernetes", "docker", "normalized"].includes(String((u as { source: unknown }).source))

const matches = (vs: ReadonlyArray<EngineViolation>, rule: string) =>
  vs.some((v) => v.rule === rule || v.message.includes(rule))

const show = (d: EngineDecision) => JSON.stringify(d, null, 2)

const rules = (r: string | ReadonlyArray<string> | undefined): ReadonlyArray<string> =>
  r === undefined ? [] : typeof r === "string" ? [r] : r

/** Wraps an evaluator with the assertion helpers. */
export const policyUnderTest = (evaluator: PolicyEvaluator): PolicyUnderTest => {
  const evaluate = (subject: PolicySubject, options: EvaluateOptions = {}): EngineDecision => {
    const now = typeof options.now === "string" ? Date.parse(options.now) : (options.now ?? DEFAULT_NOW)
    if (isWorkloadSource(subject))
      return evaluator.evaluateRequest({ workload: subject, scan: options.scan }, now).decision
    const classified = classifyInput(subject)
    if (Result.isFailure(classified)) throw new TypeError(classified.failure.message)
    const c = classified.success
    if (c.kind === "source") return evaluator.evaluateRequest({ workload: c.source, scan: options.scan }, now).decision
    return evaluator.evaluateInput({ now: new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z"), ...c.input })
  }
  const fail = (message: string, d: EngineDecision, expected: unknown) => {
    throw new AssertionError({ message: `${message}\ndecision: ${show(d)}`, actual: d, expected, operator: "policy" })
  }
  return {
    evaluator,
    evaluate,
    expectAllowed: (subject, options) => {
      const d = evaluate(subject, options)
      if (!d.allow) fail("expected the policy to allow", d, { allow: true })
      return d
    },
    expectDenied: (subject, rule, options) => {
      const d = evaluate(subject, options)
      if (d.allow) fail("expected the policy to deny", d, { allow: false, deny: rules(rule) })
      for (const r of rules(rule))
        if (!matches(d.deny, r)) fail(`expected a deny matching "${r}"`, d, { deny: rules(rule) })
      return d
    },
    expectWarned: (subject, rule, options) => {
      const d = evaluate(subject, options)
      for (const r of rules(rule))
        if (!matches(d.warn, r)) fail(`expected a warning matching "${r}"`, d, { warn: rules(rule) })
      return d
    }
  }
}

/** Loads bundles (paths or sources; default: the built-in bundle) for assertions. */
export const loadPolicy = async (
  sources: BundleSource | ReadonlyArray<BundleSource> = builtinBundleDir,
  options: BundleOptions = {}
): Promise<PolicyUnderTest> => {
  const list = Array.isArray(sources) ? (sources as ReadonlyArray<BundleSource>) : [sources as BundleSource]
  return policyUnderTest(makeEvaluator(await Effect.runPromise(loadBundles(list, options))))
}
