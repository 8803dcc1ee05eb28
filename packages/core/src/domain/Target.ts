import { Schema } from "effect"

/** One unit a rollout updates: a Kubernetes workload, a DaemonSet pod's node, a Docker container on a host. */
export const Target = Schema.Struct({
  /** Stable, adapter-unique id (e.g. `host-a/agent-3`, `ns/deployment/name`). */
  id: Schema.String,
  /** Human-readable name shown by the CLI. */
  name: Schema.String,
  /** Labels the planner groups by (topology key) and selectors match on. */
  labels: Schema.Record(Schema.String, Schema.String),
  /** Position for ordinal (partition) rollouts; StatefulSet-style. */
  ordinal: Schema.optional(Schema.Int),
  /**
   * Adapter-private JSON that `discover` attaches and every later call gets back with the target,
   * also after a resume (it is journaled with the plan): e.g. which container of a pod runs the
   * artifact. The core never reads it.
   */
  data: Schema.optional(Schema.Unknown)
})
export type Target = typeof Target.Type

/**
 * What a target runs now, as the adapter can restore it. `image` is the image reference; `data`
 * is adapter-private JSON needed to roll back exactly (e.g. Docker's renamed old container).
 */
export const Revision = Schema.Struct({
  image: Schema.String,
  configHash: Schema.optional(Schema.String),
  data: Schema.optional(Schema.Unknown)
})
export type Revision = typeof Revision.Type

/**
 * The workload as the policies see it, before normalization. The policy layer turns each variant
 * into its one normalized `input.workload` shape.
 */
export type WorkloadSource =
  | {
      readonly source: "kubernetes"
      readonly object: unknown
      /**
       * The namespace the pods will run in, as the adapter read it before the rollout: its
       * `pod-security.kubernetes.io/*` labels make the policy gate evaluate the Pod Security level
       * the apiserver will enforce there (policies see it as `input.kubernetes.namespace`).
       */
      readonly namespace?: { readonly name: string; readonly labels: Readonly<Record<string, string>> }
    }
  | { readonly source: "docker"; readonly container: unknown; readonly image?: unknown }
  | { readonly source: "normalized"; readonly workload: unknown }
