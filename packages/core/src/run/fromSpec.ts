import type { Artifact, ProbeSpec } from "../adapter/TargetAdapter.js"
import { type AnalysisConfig, defaultOperations, type RolloutConfig } from "../interpreter/RolloutConfig.js"
import type { RolloutSpec } from "../spec/Rollout.js"
import { parseSuccessCondition } from "../spec/SuccessCondition.js"

/** Health is polled this often when the spec has no probe (`spec.health.probe.period`). */
export const DEFAULT_POLL_INTERVAL_MS = 1000
/** Analysis measurements are this far apart when a template has a `count` but no `interval`. */
export const DEFAULT_ANALYSIS_INTERVAL_MS = 30_000
/** Argo Rollouts' default: an analysis errs after more than 4 measurements in a row could not be taken. */
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4

export interface ConfigFromSpecOptions {
  /** Overrides `spec.target.adapter` (e.g. the CLI's `--adapter`). */
  readonly adapter?: string
  /** Overrides the adapter call defaults (timeouts, retries, concurrency). */
  readonly operations?: Partial<RolloutConfig["operations"]>
}

/**
 * The interpreter's {@link RolloutConfig} for a decoded spec: durations in milliseconds, health
 * polled at the probe's period, gates and rollback as written, adapter-call defaults from
 * {@link defaultOperations}. Pure: the result is plain JSON, stored in the journal header.
 */
export const configFromSpec = (
  spec: RolloutSpec,
  rolloutId: string,
  options: ConfigFromSpecOptions = {}
): RolloutConfig => {
  const body = spec.spec
  const artifact: Artifact = {
    image: body.artifact.image,
    ...(body.artifact.config === undefined ? {} : { config: body.artifact.config })
  }
  const analysis = body.gates.analysis.map((a): AnalysisConfig => {
    // The spec's Schema accepted the condition with this same grammar, so it parses here.
    const condition = a.successCondition === undefined ? undefined : parseSuccessCondition(a.successCondition)
    return {
      name: a.name,
      query: a.query ?? "",
      successCondition: a.successCondition ?? "",
      ...(condition === undefined ? {} : { condition }),
      provider: a.provider,
      address: a.address,
      count: a.count ?? 1,
      intervalMs: a.interval ?? DEFAULT_ANALYSIS_INTERVAL_MS,
      initialDelayMs: a.initialDelay ?? 0,
      failureLimit: a.failureLimit ?? 0,
      inconclusiveLimit: a.inconclusiveLimit ?? 0,
      consecutiveErrorLimit: a.consecutiveErrorLimit ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT,
      ...(a.args === undefined ? {} : { args: a.args }),
      ...(a.judge === undefined ? {} : { judge: a.judge })
    }
  })
  const maxInFlight = body.concurrency?.maxInFlight
  return {
    rolloutId,
    adapter: options.adapter ?? body.target.adapter,
    selector: body.target.selector,
    artifact,
    health: {
      progressDeadlineMs: body.health.progressDeadline,
      minReadyMs: body.health.minReadySeconds * 1000,
      pollIntervalMs: Math.max(1, body.health.probe?.period ?? DEFAULT_POLL_INTERVAL_MS),
      ...(body.health.probe === undefined ? {} : { probe: body.health.probe as ProbeSpec })
    },
    rollback: { onFailure: body.rollback.onFailure, onAbort: body.rollback.onAbort },
    gates: {
      policy: body.gates.policy.enabled,
      scan: body.gates.scan.enabled,
      analysis,
      ...(body.gates.signature.enabled && body.gates.signature.publicKey !== undefined
        ? { signature: { publicKey: body.gates.signature.publicKey } }
        : body.gates.signature.enabled && body.gates.signature.keyless !== undefined
          ? { signature: { keyless: body.gates.signature.keyless } }
          : {}),
      params: {
        ...(body.gates.policy.profiles === undefined ? {} : { podSecurity: { profiles: body.gates.policy.profiles } }),
        scan: { waiveMissingReport: body.gates.scan.waiveMissingReport }
      }
    },
    operations: { ...defaultOperations, ...options.operations },
    ...(maxInFlight === undefined ? {} : { maxInFlight })
  }
}
