import type { Target } from "@sluice/core"
import { permanent } from "./errors.js"

export type WorkloadKind = "DaemonSet" | "StatefulSet" | "Deployment"

/**
 * What the adapter attaches to each target (`Target.data`): the workload it belongs to and the
 * selector's options, so every call (also after a resume, which does not discover again) knows them.
 */
export interface TargetData {
  readonly v: 1
  readonly kind: WorkloadKind
  readonly namespace: string
  readonly name: string
  /** DaemonSet targets: the node. */
  readonly node?: string
  /** The container that runs the artifact (selector `container`). */
  readonly container?: string
  /** The volume whose ConfigMap carries the artifact's config (selector `configVolume`). */
  readonly configVolume?: string
  /** With several clusters (`clusters` in the adapter's configuration): the cluster it lives in. */
  readonly cluster?: string
}

const KIND_SEGMENT: Record<WorkloadKind, string> = {
  DaemonSet: "daemonset",
  StatefulSet: "statefulset",
  Deployment: "deployment"
}

/**
 * `ns/daemonset/name/node`, `ns/statefulset/name/3`, `ns/deployment/name`, with `<cluster>/` before
 * them for a cluster of a multi-cluster adapter (the same workload exists in every cluster). Sorted
 * ids keep a cluster's, then a workload's, targets together.
 */
export const targetId = (d: TargetData, ordinal?: number): string => {
  const base = `${d.cluster === undefined ? "" : `${d.cluster}/`}${d.namespace}/${KIND_SEGMENT[d.kind]}/${d.name}`
  if (d.kind === "DaemonSet") return `${base}/${d.node ?? ""}`
  if (d.kind === "StatefulSet") return `${base}/${ordinal ?? 0}`
  return base
}

/** The workload a target belongs to, as a map key. */
export const workloadKey = (d: Pick<TargetData, "kind" | "namespace" | "name" | "cluster">) =>
  `${d.cluster === undefined ? "" : `${d.cluster}/`}${d.kind}/${d.namespace}/${d.name}`

const isTargetData = (u: unknown): u is TargetData => {
  if (typeof u !== "object" || u === null) return false
  const d = u as Record<string, unknown>
  return (
    d.v === 1 &&
    (d.kind === "DaemonSet" || d.kind === "StatefulSet" || d.kind === "Deployment") &&
    typeof d.namespace === "string" &&
    typeof d.name === "string" &&
    (d.cluster === undefined || typeof d.cluster === "string")
  )
}

/** The target's workload, or a permanent error for a target this adapter did not discover. */
export const dataOf = (operation: Parameters<typeof permanent>[0], target: Target) =>
  isTargetData(target.data)
    ? { ok: true as const, data: target.data }
    : {
        ok: false as const,
        error: permanent(operation, target.id, `${target.id} was not discovered by the kubernetes adapter`)
      }
