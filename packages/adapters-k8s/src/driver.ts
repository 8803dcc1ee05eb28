import type {
  AdapterError,
  ApplyContext,
  Artifact,
  ConcludeContext,
  HealthReport,
  Plan,
  Revision,
  RollbackContext,
  Target,
  TargetState,
  WorkloadSource
} from "@sluice/core"
import type { Effect } from "effect"
import type { KubernetesSelector } from "./config.js"
import type { TargetData } from "./targets.js"
import type { WorkloadObject } from "./workloads.js"

/** One kind of workload (DaemonSet, StatefulSet, Deployment): the adapter dispatches each call to its driver. */
export interface Driver {
  readonly discover: (selector: KubernetesSelector) => Effect.Effect<ReadonlyArray<Target>, AdapterError>
  /** The workload objects the selector names (for what their pod templates say, e.g. imagePullSecrets). */
  readonly workloads: (selector: KubernetesSelector) => Effect.Effect<ReadonlyArray<WorkloadObject>, AdapterError>
  readonly inspect: (target: Target, d: TargetData) => Effect.Effect<TargetState, AdapterError>
  readonly render: (
    state: TargetState,
    artifact: Artifact,
    d: TargetData
  ) => Effect.Effect<WorkloadSource, AdapterError>
  readonly apply: (
    target: Target,
    d: TargetData,
    artifact: Artifact,
    ctx: ApplyContext
  ) => Effect.Effect<Revision, AdapterError>
  readonly health: (target: Target, d: TargetData) => Effect.Effect<HealthReport, AdapterError>
  readonly rollback: (
    target: Target,
    d: TargetData,
    revision: Revision,
    ctx: RollbackContext | undefined
  ) => Effect.Effect<void, AdapterError>
  readonly finalize: (targets: ReadonlyArray<readonly [Target, TargetData]>) => Effect.Effect<void, AdapterError>
  /** Once per workload the rollout covered; returns notes for the operator. */
  readonly conclude: (
    ctx: ConcludeContext,
    workloads: ReadonlyArray<TargetData>
  ) => Effect.Effect<ReadonlyArray<string>, AdapterError>
  /** Pure: refuses a plan this kind cannot carry out (see TargetAdapterShape.validatePlan). */
  readonly validatePlan?: (plan: Plan, data: ReadonlyMap<string, TargetData>) => string | undefined
}
