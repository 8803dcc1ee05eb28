import { Schema } from "effect"

const Labels = Schema.Record(Schema.String, Schema.String)
/** A DNS-1123 label or subdomain: what Kubernetes accepts as a namespace or object name. */
const ObjectName = Schema.String.check(
  Schema.isPattern(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, {
    message: "expected a Kubernetes object name (lowercase letters, digits, '-' and '.')"
  })
)

/**
 * The adapter-specific selector of a rollout spec (`spec.target.selector`): which workloads are
 * rolled, and how. Decoded strictly (unknown fields are errors, with their path).
 */
export const KubernetesSelector = Schema.Struct({
  /** Namespace of the workloads. Absent: every namespace (with `labelSelector`). */
  namespace: Schema.optionalKey(ObjectName),
  kind: Schema.Literals(["DaemonSet", "StatefulSet", "Deployment"]),
  /** One workload by name (needs `namespace`). */
  name: Schema.optionalKey(ObjectName),
  /** Workloads whose labels match: `app=agent,tier in (edge)` or `{ app: agent }`. */
  labelSelector: Schema.optionalKey(Schema.Union([Schema.NonEmptyString, Labels])),
  /** DaemonSet only: roll only the nodes whose labels include all of these. */
  nodeSelector: Schema.optionalKey(Labels),
  /** The container that runs the artifact. Default: the one(s) running the artifact's repository, else the first. */
  container: Schema.optionalKey(Schema.NonEmptyString),
  /**
   * The pod volume whose ConfigMap carries the artifact's config (`spec.artifact.config.files`):
   * the files are written into a new immutable ConfigMap named by their hash and the volume points at
   * it, so config and image change (and roll back) together as one revision.
   */
  configVolume: Schema.optionalKey(Schema.NonEmptyString)
}).check(
  Schema.makeFilter((s) => {
    if (s.name === undefined && s.labelSelector === undefined)
      return "a kubernetes selector needs `name` or `labelSelector`"
    if (s.name !== undefined && s.labelSelector !== undefined)
      return "a kubernetes selector takes `name` or `labelSelector`, not both"
    if (s.name !== undefined && s.namespace === undefined) return "`name` needs a `namespace`"
    if (s.nodeSelector !== undefined && s.kind !== "DaemonSet") return "`nodeSelector` applies to DaemonSets only"
    return undefined
  })
)
export type KubernetesSelector = typeof KubernetesSelector.Type

/** The adapter's own configuration (given by the embedding program or the CLI, not the spec). */
export const KubernetesAdapterConfig = Schema.Struct({
  /** Path of a kubeconfig file. Default: `$KUBECONFIG`, else `~/.kube/config`, else in-cluster. */
  kubeconfig: Schema.optionalKey(Schema.NonEmptyString),
  /** A context of the kubeconfig (default: its current context). */
  context: Schema.optionalKey(Schema.NonEmptyString),
  /** Use the pod's service account (`/var/run/secrets/kubernetes.io/serviceaccount`). */
  inCluster: Schema.optionalKey(Schema.Boolean),
  /** Field manager of every write (default `sluice`). */
  fieldManager: Schema.optionalKey(Schema.NonEmptyString),
  /** How long `apply`/`rollback` wait for a controller to observe a changed workload (default 60). */
  observeTimeoutSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0)))
})
export type KubernetesAdapterConfig = typeof KubernetesAdapterConfig.Type
export type KubernetesAdapterConfigInput = typeof KubernetesAdapterConfig.Encoded
