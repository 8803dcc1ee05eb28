import { Context, type Effect, Schema } from "effect"
import type { WorkloadSource } from "../domain/Target.js"

export const Violation = Schema.Struct({
  rule: Schema.String,
  message: Schema.String,
  container: Schema.optional(Schema.String),
  /** Which bundle produced it, when several are loaded. */
  bundle: Schema.optional(Schema.String)
})
export type Violation = typeof Violation.Type

/** The decision document every bundle must produce (`data.sluice.decision`). */
export const PolicyDecision = Schema.Struct({
  allow: Schema.Boolean,
  deny: Schema.Array(Violation),
  warn: Schema.Array(Violation)
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
  readonly findings: ReadonlyArray<ScanFinding>
  /** The raw report, for policies that want more. */
  readonly raw?: unknown
}

export interface PolicyRequest {
  readonly targetId: string
  readonly image: string
  readonly workload: WorkloadSource
  readonly scan: ScanReport | undefined
}

export interface PolicyEngineShape {
  /**
   * Never fails: the engine fails closed, so a missing bundle, a Wasm trap or a malformed result is
   * a deny whose violation says why.
   */
  readonly evaluate: (request: PolicyRequest) => Effect.Effect<PolicyDecision>
  /** The loaded bundles' revision(s), recorded with every decision in the event stream. */
  readonly revision?: string
}

export class PolicyEngine extends Context.Service<PolicyEngine, PolicyEngineShape>()(
  "@sluice/core/policy/PolicyEngine"
) {}

export interface ScanReportSourceShape {
  /** `undefined` when no report exists for the image (the scan gate decides what that means). */
  readonly reportFor: (image: string) => Effect.Effect<ScanReport | undefined>
}

export class ScanReportSource extends Context.Service<ScanReportSource, ScanReportSourceShape>()(
  "@sluice/core/policy/ScanReportSource"
) {}
