import { RegistryCredentials } from "@sluice/core"
import { Schema, SchemaIssue } from "effect"

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

/** The label every target of a multi-cluster adapter carries: its cluster's name (a topology value). */
export const CLUSTER_LABEL = "sluice.dev/cluster"

/**
 * A cluster's name: a label value (the planner groups targets by it: `topology.groupBy:
 * sluice.dev/cluster`) and the first segment of its targets' ids, so no `/`.
 */
const ClusterName = Schema.String.check(
  Schema.isPattern(/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    message:
      "expected a cluster name usable as a label value (1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)"
  })
)

/** One cluster of a multi-cluster adapter: where its connection comes from. */
export const KubernetesCluster = Schema.Struct({
  /** The name its targets carry (label `sluice.dev/cluster`, id prefix `<name>/`) and messages use. */
  name: ClusterName,
  /** Its kubeconfig file. Default: the configuration's top-level `kubeconfig`, else `$KUBECONFIG`, else `~/.kube/config`. */
  kubeconfig: Schema.optionalKey(Schema.NonEmptyString),
  /** A context of that kubeconfig (default: its current context). */
  context: Schema.optionalKey(Schema.NonEmptyString),
  /** The pod's own cluster, through its service account (at most one cluster can be that one). */
  inCluster: Schema.optionalKey(Schema.Boolean)
})
export type KubernetesCluster = typeof KubernetesCluster.Type

/** Two clusters with one name, or two reaching the same kubeconfig context, are a mistake: say which. */
const distinctClusters = Schema.makeFilter<ReadonlyArray<KubernetesCluster>>((clusters) => {
  const issues: Array<{ path: ReadonlyArray<PropertyKey>; issue: SchemaIssue.Issue }> = []
  const names = new Map<string, number>()
  const contexts = new Map<string, number>()
  let inCluster: number | undefined
  clusters.forEach((c, i) => {
    const sameName = names.get(c.name)
    if (sameName !== undefined)
      issues.push({
        path: [i, "name"],
        issue: new SchemaIssue.InvalidValue({ message: `duplicate cluster name "${c.name}" (clusters[${sameName}])` })
      })
    else names.set(c.name, i)
    if (c.inCluster === true) {
      if (c.kubeconfig !== undefined || c.context !== undefined)
        issues.push({
          path: [i, "inCluster"],
          issue: new SchemaIssue.InvalidValue({ message: "inCluster excludes kubeconfig and context" })
        })
      if (inCluster !== undefined)
        issues.push({
          path: [i, "inCluster"],
          issue: new SchemaIssue.InvalidValue({
            message: `only one cluster can be in-cluster (clusters[${inCluster}] is)`
          })
        })
      inCluster ??= i
      return
    }
    const where = `${c.kubeconfig ?? ""}\u0000${c.context ?? ""}`
    const sameContext = contexts.get(where)
    if (sameContext !== undefined)
      issues.push({
        path: [i],
        issue: new SchemaIssue.InvalidValue({
          message: `clusters[${sameContext}] already connects with the same kubeconfig and context: give each cluster its own`
        })
      })
    else contexts.set(where, i)
  })
  return issues
})

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
  observeTimeoutSeconds: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThan(0))),
  /**
   * Several clusters in one adapter: each target carries its cluster (label `sluice.dev/cluster`,
   * id `<cluster>/<namespace>/<kind>/<name>[/…]`), every call goes to that cluster's connection, and
   * `topology.groupBy: sluice.dev/cluster` rolls them cluster by cluster. The top-level `kubeconfig`
   * is then the default file of the clusters that name none; `context` and `inCluster` belong to
   * each cluster.
   */
  clusters: Schema.optionalKey(Schema.Array(KubernetesCluster).check(Schema.isMinLength(1), distinctClusters)),
  /**
   * Resolve the artifact's tag to the digest its registry names now, before any gate, and deploy by
   * that digest (`repo:tag@sha256:…` in every pod template), so that a tag moved during the rollout
   * changes nothing and the scan gate takes only a report made for those bytes (default true). A
   * registry that cannot be reached, refuses the credentials or does not know the tag then stops the
   * rollout before anything is touched. `false`: the tag is deployed as written (pin a digest in the
   * spec instead), e.g. for a registry only the nodes can reach.
   */
  resolveDigests: Schema.optionalKey(Schema.Boolean),
  /**
   * Credentials per registry host (`registry.example.com`, `localhost:5000`, `docker.io`), as the
   * Docker adapter takes them, for resolving the artifact's tag to the digest the rollout deploys
   * by. Tried first; then `dockerConfig`, then the `imagePullSecrets` of the selected workloads (or of
   * their ServiceAccounts, for a workload that names none).
   */
  registries: Schema.optionalKey(Schema.Record(Schema.String, RegistryCredentials)),
  /**
   * A Docker client config file (`auths`) with registry credentials, for the same purpose. Read
   * only when given: the operator's own `~/.docker/config.json` is not what the nodes pull with.
   */
  dockerConfig: Schema.optionalKey(Schema.NonEmptyString)
}).check(
  Schema.makeFilter((c) => {
    if (c.clusters === undefined) return undefined
    const misplaced = (["context", "inCluster"] as const).filter((k) => c[k] !== undefined)
    return misplaced.map((k) => ({
      path: [k],
      issue: new SchemaIssue.InvalidValue({
        message: `with clusters, ${k} goes in each cluster (clusters[i].${k}), not at the top level`
      })
    }))
  })
)
export type KubernetesAdapterConfig = typeof KubernetesAdapterConfig.Type
export type KubernetesAdapterConfigInput = typeof KubernetesAdapterConfig.Encoded
