/** StatefulSet fixtures and a watch that records what the cluster itself did to its pods during a rollout. */
import { KubeConfig, type V1Pod, type V1StatefulSet, Watch } from "@kubernetes/client-node"
import { clusterInfo, kube } from "../../support/cluster.js"
import { notYet, waitFor } from "../../support/wait.js"
import { agentTemplate } from "./daemonset.js"

/** The ordinal in a StatefulSet pod's name (`<set>-<ordinal>`). */
export const podOrdinal = (set: string, pod: V1Pod): number => Number(pod.metadata?.name?.slice(set.length + 1))

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** Compact status for waitFor's "last observed". */
export const statefulSetSummary = (s: V1StatefulSet) => ({
  generation: s.metadata?.generation,
  observedGeneration: s.status?.observedGeneration,
  replicas: s.status?.replicas,
  ready: s.status?.readyReplicas,
  updated: s.status?.updatedReplicas,
  current: s.status?.currentRevision,
  update: s.status?.updateRevision,
  partition: s.spec?.updateStrategy?.rollingUpdate?.partition
})

/**
 * Creates a StatefulSet (a headless Service for it, a policy-compliant template on the given pool)
 * and waits until every replica is Ready on one revision.
 */
export async function createStatefulSet(o: {
  namespace: string
  name: string
  image: string
  pool: string
  replicas: number
  updateStrategy?: NonNullable<V1StatefulSet["spec"]>["updateStrategy"]
}): Promise<V1StatefulSet> {
  const { apps, core } = kube()
  const labels = { app: o.name }
  await core.createNamespacedService({
    namespace: o.namespace,
    body: { metadata: { name: o.name }, spec: { clusterIP: "None", selector: labels, ports: [{ port: 5432 }] } }
  })
  await apps.createNamespacedStatefulSet({
    namespace: o.namespace,
    body: {
      metadata: { name: o.name, labels },
      spec: {
        serviceName: o.name,
        replicas: o.replicas,
        selector: { matchLabels: labels },
        template: agentTemplate({ labels, image: o.image, pool: o.pool }),
        ...(o.updateStrategy === undefined ? {} : { updateStrategy: o.updateStrategy })
      }
    }
  })
  return waitStatefulSetSettled(o.namespace, o.name, o.replicas)
}

/** Waits until the controller observed the StatefulSet and all its replicas are Ready on one revision. */
export function waitStatefulSetSettled(namespace: string, name: string, replicas: number): Promise<V1StatefulSet> {
  return waitFor(
    `StatefulSet ${name}: ${replicas} Ready replicas on one revision`,
    async () => {
      const s = await kube().apps.readNamespacedStatefulSet({ name, namespace })
      const st = s.status
      return (st?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) &&
        st?.readyReplicas === replicas &&
        st.updatedReplicas === replicas &&
        st.currentRevision === st.updateRevision
        ? s
        : notYet(statefulSetSummary(s))
    },
    { timeoutMs: 120_000 }
  )
}

export interface OrdinalState {
  readonly ordinal: number
  readonly revision: string
  readonly image: string
  readonly ready: boolean
}

/** The live pods of a StatefulSet, by ordinal: revision label, image, readiness. */
export async function ordinalStates(namespace: string, name: string): Promise<ReadonlyArray<OrdinalState>> {
  const pods = (await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items
  return pods
    .filter((p) => p.metadata?.deletionTimestamp === undefined)
    .map((p) => ({
      ordinal: podOrdinal(name, p),
      revision: p.metadata?.labels?.["controller-revision-hash"] ?? "",
      image: p.spec?.containers[0]?.image ?? "",
      ready: isReady(p)
    }))
    .sort((a, b) => a.ordinal - b.ordinal)
}

export interface StatefulSetPodWatch {
  /**
   * Each graceful pod deletion (a deletionTimestamp appearing with the pod's grace period: what the
   * StatefulSet controller and the adapter send), in the order the apiserver reported them.
   */
  readonly deletions: () => ReadonlyArray<{ readonly ordinal: number; readonly revision: string }>
  /**
   * Immediate deletions (grace period 0, or gone at once): kwok's. Its pod-delete stage finishes a
   * terminating pod by deleting it by name, without a uid precondition, and sometimes plays twice; a
   * StatefulSet reuses pod names, so the second delete can hit the replacement pod (a kubelet would
   * not). Kept apart so the assertions are about what the controller and Sluice did.
   */
  readonly kwokDeletions: () => ReadonlyArray<{ readonly ordinal: number; readonly revision: string }>
  readonly stop: () => void
}

/** Watches the StatefulSet's pods from the apiserver (not from Sluice's events) and records every deletion. */
export async function watchStatefulSetPods(namespace: string, name: string): Promise<StatefulSetPodWatch> {
  const config = new KubeConfig()
  config.loadFromFile(clusterInfo().kubeconfig ?? "")
  const deletions: Array<{ ordinal: number; revision: string }> = []
  const kwok: Array<{ ordinal: number; revision: string }> = []
  const seen = new Set<string>()
  const record = (pod: V1Pod, deleted: boolean) => {
    const uid = pod.metadata?.uid ?? ""
    if ((deleted || pod.metadata?.deletionTimestamp !== undefined) && !seen.has(uid)) {
      seen.add(uid)
      const deletion = {
        ordinal: podOrdinal(name, pod),
        revision: pod.metadata?.labels?.["controller-revision-hash"] ?? ""
      }
      // The controller and the adapter delete running pods gracefully (the pod's grace period, 1 s
      // here), which the apiserver shows as a deletionTimestamp first.
      const graceful = (pod.metadata?.deletionGracePeriodSeconds ?? 0) > 0
      if (graceful) deletions.push(deletion)
      else kwok.push(deletion)
    }
  }
  const initial = await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })
  for (const p of initial.items) record(p, false)
  const controller = await new Watch(config).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector: `app=${name}`, resourceVersion: initial.metadata?.resourceVersion ?? "" },
    (phase, obj: V1Pod) => record(obj, phase === "DELETED"),
    () => undefined
  )
  return { deletions: () => [...deletions], kwokDeletions: () => [...kwok], stop: () => controller.abort() }
}
