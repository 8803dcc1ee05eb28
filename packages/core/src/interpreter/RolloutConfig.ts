import type { Artifact, ProbeSpec } from "../adapter/TargetAdapter.js"
import type { SuccessCondition } from "../spec/SuccessCondition.js"
import type { PolicyParams } from "../policy/PolicyEngine.js"
import type { SignatureTrust } from "../policy/SignatureVerifier.js"

/** An argument substituted for `{{args.<name>}}`: a fixed value, or each target's label. */
export interface AnalysisArgConfig {
  readonly name: string
  readonly value?: string
  readonly fromLabel?: string
}

/** The canary judge of an analysis (see `analysis/judge/`), as the spec decoded it. */
export interface JudgeConfig {
  readonly kind: "canary"
  readonly metrics: ReadonlyArray<{
    readonly name: string
    readonly query: string
    readonly direction: "increase" | "decrease" | "either"
    readonly critical: boolean
    readonly group?: string
  }>
  readonly confidence: number
  readonly tolerance: number
  readonly thresholds: { readonly pass: number; readonly marginal: number }
  readonly groupWeights?: Readonly<Record<string, number>>
}

/**
 * One analysis gate: `count` measurements with Argo Rollouts' limits (see `analysis/run.ts`), each
 * a query whose value must satisfy the condition, or a canary judgement.
 */
export interface AnalysisConfig {
  readonly name: string
  /** The threshold query; `""` for a judge analysis (its queries are the judge's metrics). */
  readonly query: string
  /** e.g. `result < 0.05`: `result` compared with one of < <= > >= == != and a number; `""` with a judge. */
  readonly successCondition: string
  /** `successCondition` as the spec decoded it: what the run evaluates (absent in older headers). */
  readonly condition?: SuccessCondition
  readonly provider?: string
  readonly address?: string
  /** How many measurements that answered, how far apart. */
  readonly count: number
  readonly intervalMs: number
  /** Absent in headers written before templates had them: 0, 0, 4, no delay (Argo's defaults). */
  readonly initialDelayMs?: number
  readonly failureLimit?: number
  readonly inconclusiveLimit?: number
  readonly consecutiveErrorLimit?: number
  readonly args?: ReadonlyArray<AnalysisArgConfig>
  readonly judge?: JudgeConfig
}

/**
 * Everything the interpreter needs to run a rollout, as plain JSON, derived from the decoded spec
 * and stored in the journal header so a resumed process needs nothing else.
 */
/**
 * The artifact's digest, resolved before the gates (see `interpreter/artifactDigest.ts`): the
 * spec's pinned digest, or the registry's manifest digest through the adapter. Stored in the
 * journal header with the config, so a resumed run deploys and judges the same bytes.
 */
export interface ArtifactDigest {
  /** `sha256:<64 hex>`: the manifest digest the rollout deploys by. */
  readonly digest: string
  /** The image configuration's digest (a scan report's `ImageID`), when the registry gave it. */
  readonly configDigest?: string
  /** `spec`: pinned in the spec; `registry`: the tag resolved through the adapter. */
  readonly source: "spec" | "registry"
  /** The reference as the spec wrote it (e.g. with the tag that was resolved). */
  readonly reference: string
}

export interface RolloutConfig {
  readonly rolloutId: string
  readonly adapter: string
  readonly selector: unknown
  /** The artifact; once its digest is resolved, its image names that digest (deployed by digest). */
  readonly artifact: Artifact
  /** Set by `startRollout` before the gates run; absent when neither the spec nor the adapter gave a digest. */
  readonly artifactDigest?: ArtifactDigest
  readonly health: {
    readonly progressDeadlineMs: number
    readonly minReadyMs: number
    readonly pollIntervalMs: number
    /** The spec's probe, handed to the adapter's health check. */
    readonly probe?: ProbeSpec
  }
  readonly rollback: { readonly onFailure: boolean; readonly onAbort: boolean }
  readonly gates: {
    readonly policy: boolean
    readonly scan: boolean
    readonly analysis: ReadonlyArray<AnalysisConfig>
    /**
     * `spec.gates.signature`, present only when it is on: the key or the certificate identity a
     * signature of the artifact's digest must verify against (absent in headers written before the
     * gate existed: the gate is off).
     */
    readonly signature?: SignatureTrust
    /** The spec's settings handed to the policy engine with every evaluation (profiles, waivers). */
    readonly params?: PolicyParams
  }
  readonly operations: {
    /** Per adapter call. */
    readonly timeoutMs: number
    /** Transient failures are retried this many times with exponential backoff. */
    readonly retries: number
    readonly retryBaseMs: number
    /** Bounded concurrency for discovery/inspect and rollbacks. */
    readonly concurrency: number
    /** A snapshot is written after this many journal entries (resume replays only what follows). */
    readonly snapshotEvery?: number
  }
  readonly maxInFlight?: number
}

export const defaultOperations: RolloutConfig["operations"] = {
  timeoutMs: 120_000,
  retries: 5,
  retryBaseMs: 200,
  concurrency: 8
}
