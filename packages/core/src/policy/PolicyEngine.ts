import { Context, type Effect, Schema } from "effect"
import type { WorkloadSource } from "../domain/Target.js"

/**
 * The gates a policy engine decides. Every violation it reports names one; the interpreter applies
 * a violation only when the spec turns its gate on (it never looks at rule names).
 */
export const PolicyGate = Schema.Literals(["policy", "scan", "signature"])
export type PolicyGate = typeof PolicyGate.Type
export const policyGates: ReadonlyArray<PolicyGate> = PolicyGate.literals

/** A violation's fields apart from its gate (a gate event names its gate once, for all of them). */
export const violationFields = {
  rule: Schema.String,
  message: Schema.String,
  container: Schema.optional(Schema.String),
  /** Which bundle produced it, when several are loaded. */
  bundle: Schema.optional(Schema.String)
}

export const Violation = Schema.Struct({ ...violationFields, gate: PolicyGate })
export type Violation = typeof Violation.Type

/** The decision document every bundle must produce (`data.sluice.decision`). */
export const PolicyDecision = Schema.Struct({
  allow: Schema.Boolean,
  deny: Schema.Array(Violation),
  warn: Schema.Array(Violation),
  /**
   * Set by the engine when it could not reach a decision at all (it stopped an evaluation that ran
   * past its time limit, or its evaluator crashed): the decision denies, and the gate gives it to
   * the workloads it has not evaluated yet instead of waiting the limit out again for each.
   */
  undecided: Schema.optional(Schema.Boolean)
})
export type PolicyDecision = typeof PolicyDecision.Type

/** Summary of a Trivy (SchemaVersion 2) report, or `undefined` when none was found. */
export interface ScanFinding {
  readonly id: string
  readonly pkg: string
  readonly installedVersion: string
  readonly fixedVersion?: string
  readonly severity: "UNKNOWN" | "LOW" | "MEDIUM" | "HIGH" | "CRITICAL"
}
export interface ScanReport {
  readonly image: string
  /**
   * The image digests the report says it was made for (`sha256:<64 hex>`): Trivy's
   * `Metadata.RepoDigests` (the part after `@`) and `Metadata.ImageID`, or the file's own `digest`.
   * The scan gate accepts a report only when it names the artifact's digest.
   */
  readonly digests: ReadonlyArray<string>
  /** Where the report came from (a file path), for the gate's messages. */
  readonly source?: string
  readonly findings: ReadonlyArray<ScanFinding>
  /** The raw report, for policies that want more. */
  readonly raw?: unknown
}

/**
 * The rollout spec's settings for the policies, handed to every evaluation so that the spec decides
 * them whatever bundle data the embedder loaded (the policies see them as `input.params`: they
 * override the bundle's `data.sluice.params` key by key, except Pod Security profiles, which add up
 * with the data's, the strictest winning). Without this, a spec selecting a Pod Security profile
 * would be ignored by an engine whose data does not repeat it: fail open.
 */
export interface PolicyParams {
  /** `spec.gates.policy.profiles`: the built-in profiles to add (e.g. `pod-security/restricted`). */
  readonly podSecurity?: { readonly profiles: ReadonlyArray<string> }
  /** `spec.gates.scan.waiveMissingReport`. */
  readonly scan?: { readonly waiveMissingReport: boolean }
}

export interface PolicyRequest {
  readonly targetId: string
  readonly image: string
  readonly workload: WorkloadSource
  readonly scan: ScanReport | undefined
  /**
   * The gates this evaluation decides (default: all of them). An engine that cannot decide (a
   * missing bundle, a trap, a malformed result) denies each of them, so none fails open.
   */
  readonly gates?: ReadonlyArray<PolicyGate>
  /** The spec's settings for the policies (absent: the bundle data alone decides). */
  readonly params?: PolicyParams
}

export interface PolicyEngineShape {
  /**
   * Never fails: the engine fails closed, so a missing bundle, a Wasm trap or a malformed result is
   * a deny whose violation says why (one per gate asked). Every violation names its gate.
   */
  readonly evaluate: (request: PolicyRequest) => Effect.Effect<PolicyDecision>
  /** The loaded bundles' revision(s), recorded with every decision in the event stream. */
  readonly revision?: string
}

export class PolicyEngine extends Context.Service<PolicyEngine, PolicyEngineShape>()(
  "@sluice/core/policy/PolicyEngine"
) {}

export interface ScanReportSourceShape {
  /**
   * The report for `image` (the reference as the spec wrote it), preferring one that names
   * `digest` when it is given; `undefined` when none exists (the scan gate decides what that means).
   */
  readonly reportFor: (image: string, digest?: string) => Effect.Effect<ScanReport | undefined>
}

export class ScanReportSource extends Context.Service<ScanReportSource, ScanReportSourceShape>()(
  "@sluice/core/policy/ScanReportSource"
) {}
