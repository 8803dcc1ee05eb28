/** Small manifest builders and status readers shared by the control-plane and adapter tests. */
import type { V1Deployment, V1DeploymentCondition, V1ObjectMeta, V1Pod, V1PodSpec } from "@kubernetes/client-node"
import { POOL_LABEL } from "./nodes.js"

/** Pods with this label are run by kwok but never become Ready (scripts/kube/stages/pod-never-ready.yaml). */
export const NEVER_READY_LABEL = "sluice.dev/never-ready"
/** Pod annotation (Go duration, e.g. "2s") delaying readiness (scripts/kube/stages/pod-ready.yaml). */
export const READY_DELAY_ANNOTATION = "sluice.dev/ready-delay"
/** Pod annotation (Go duration) delaying the end of termination (scripts/kube/stages/pod-delete.yaml). */
export const TERMINATE_DELAY_ANNOTATION = "sluice.dev/terminate-delay"

export interface PodTemplateOptions {
  /** Labels identifying the workload's pods (also used as selector). */
  readonly labels: Readonly<Record<string, string>>
  readonly image: string
  /** Pin the pods to kwok nodes of this pool (nodeSelector sluice.dev/pool). */
  readonly pool?: string
  /** Mark this version as never becoming Ready. */
  readonly neverReady?: boolean
  readonly annotations?: Readonly<Record<string, string>>
  readonly containerName?: string
}

/** A pod template (V1PodTemplateSpec with metadata and spec always set). */
export function podTemplate(o: PodTemplateOptions): { metadata: V1ObjectMeta; spec: V1PodSpec } {
  return {
    metadata: {
      labels: { ...o.labels, ...(o.neverReady ? { [NEVER_READY_LABEL]: "true" } : {}) },
      ...(o.annotations ? { annotations: { ...o.annotations } } : {})
    },
    spec: {
      ...(o.pool !== undefined ? { nodeSelector: { [POOL_LABEL]: o.pool } } : {}),
      // kwok pods never run anything; a short grace period keeps deletes snappy if a stage is slow.
      terminationGracePeriodSeconds: 1,
      containers: [{ name: o.containerName ?? "app", image: o.image }]
    }
  }
}

export const containerImage = (pod: { spec?: { containers?: Array<{ image?: string }> } }): string | undefined =>
  pod.spec?.containers?.[0]?.image

export const isPodReady = (pod: V1Pod): boolean =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

export const deploymentCondition = (d: V1Deployment, type: string): V1DeploymentCondition | undefined =>
  d.status?.conditions?.find((c) => c.type === type)

/** A Deployment's rollout is complete: every replica updated and available, nothing old left. */
export function rolloutComplete(d: V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1
  const s = d.status
  return (
    s !== undefined &&
    (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
    (s.updatedReplicas ?? 0) === want &&
    (s.replicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want &&
    (s.unavailableReplicas ?? 0) === 0
  )
}

/** Compact status for "last observed" messages of waitFor. */
export const deploymentSummary = (d: V1Deployment) => ({
  generation: d.metadata?.generation,
  observedGeneration: d.status?.observedGeneration,
  replicas: d.status?.replicas,
  updated: d.status?.updatedReplicas,
  ready: d.status?.readyReplicas,
  available: d.status?.availableReplicas,
  unavailable: d.status?.unavailableReplicas,
  conditions: d.status?.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`)
})

/**
 * What a rollout writes on a workload: its spec (generation follows it), labels and annotations.
 * "Nothing touched" compares these, not the resourceVersion, which the controllers' status writes
 * move at any time (a DaemonSet's status changes while its pods settle).
 */
export const asWritten = (obj: {
  readonly metadata?: V1ObjectMeta
  readonly spec?: unknown
}): {
  generation: number | undefined
  labels: Record<string, string>
  annotations: Record<string, string>
  spec: unknown
} => ({
  generation: obj.metadata?.generation,
  labels: obj.metadata?.labels ?? {},
  annotations: obj.metadata?.annotations ?? {},
  spec: obj.spec
})
