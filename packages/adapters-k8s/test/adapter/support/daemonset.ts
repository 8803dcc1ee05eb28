/** DaemonSet fixtures and a watch that measures what the cluster itself saw during a rollout. */
import {
  type AppsV1Api,
  type CoreV1Api,
  KubeConfig,
  type V1DaemonSet,
  type V1Pod,
  Watch
} from "@kubernetes/client-node"
import { clusterInfo, kube } from "../../support/cluster.js"
import { ZONE_LABEL } from "../../support/nodes.js"
import { notYet, waitFor } from "../../support/wait.js"

/** A pod spec the built-in policies allow: non-root, limits, an allowed registry. */
export const agentTemplate = (o: { labels: Record<string, string>; image: string; pool: string }) => ({
  metadata: { labels: { ...o.labels } },
  spec: {
    nodeSelector: { "sluice.dev/pool": o.pool },
    terminationGracePeriodSeconds: 1,
    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    containers: [
      {
        name: "agent",
        image: o.image,
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true },
        resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "10m", memory: "16Mi" } }
      }
    ]
  }
})

export const IMAGE = (tag: string) => `registry.sluice.dev/agents/node-agent:${tag}`

/** Creates a DaemonSet and waits until it runs one Ready pod on each of `nodes` nodes. */
export async function createAgentDaemonSet(o: {
  namespace: string
  name: string
  image: string
  pool: string
  nodes: number
  updateStrategy?: V1DaemonSet["spec"] extends infer S ? (S extends { updateStrategy?: infer U } ? U : never) : never
  /** Another cluster's client (default: the shared test cluster's). */
  apps?: AppsV1Api
}): Promise<V1DaemonSet> {
  const apps = o.apps ?? kube().apps
  const labels = { app: o.name }
  await apps.createNamespacedDaemonSet({
    namespace: o.namespace,
    body: {
      metadata: { name: o.name, labels },
      spec: {
        selector: { matchLabels: labels },
        template: agentTemplate({ labels, image: o.image, pool: o.pool }),
        ...(o.updateStrategy === undefined ? {} : { updateStrategy: o.updateStrategy })
      }
    }
  })
  return waitFor(
    `DaemonSet ${o.name} available on ${o.nodes} nodes`,
    async () => {
      const d = await apps.readNamespacedDaemonSet({ name: o.name, namespace: o.namespace })
      const s = d.status
      return s?.desiredNumberScheduled === o.nodes &&
        s.numberAvailable === o.nodes &&
        s.updatedNumberScheduled === o.nodes
        ? d
        : notYet(s)
    },
    { timeoutMs: 150_000 }
  )
}

export interface PodWatch {
  /** Most target nodes without a Ready, non-terminating pod at any one time. */
  readonly maxUnavailable: () => number
  /** Pod deletions per node (a deletionTimestamp appearing), in order. */
  readonly deletions: () => ReadonlyArray<{ readonly node: string; readonly image: string }>
  /** Zone of each deletion, in order. */
  readonly zoneSequence: (zoneOf: ReadonlyMap<string, string>) => ReadonlyArray<string>
  readonly stop: () => void
}

/**
 * Watches the DaemonSet's pods from the apiserver (not from Sluice's events) and keeps the worst
 * unavailability over `targetNodes` and every deletion.
 */
export async function watchPods(namespace: string, app: string, targetNodes: ReadonlyArray<string>): Promise<PodWatch> {
  const config = new KubeConfig()
  config.loadFromFile(clusterInfo().kubeconfig ?? "")
  const pods = new Map<string, { node: string; ready: boolean; terminating: boolean; image: string }>()
  const deletions: Array<{ node: string; image: string }> = []
  const seenDeleting = new Set<string>()
  let worst = 0
  const recompute = () => {
    const available = new Set<string>()
    for (const p of pods.values()) if (p.ready && !p.terminating) available.add(p.node)
    const down = targetNodes.filter((n) => !available.has(n)).length
    worst = Math.max(worst, down)
  }
  const initial = await kube().core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })
  const record = (pod: V1Pod, deleted: boolean) => {
    const key = pod.metadata?.uid ?? ""
    if (deleted) pods.delete(key)
    else
      pods.set(key, {
        node: pod.spec?.nodeName ?? "",
        ready: pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
        terminating: pod.metadata?.deletionTimestamp !== undefined,
        image: pod.spec?.containers[0]?.image ?? ""
      })
    if ((deleted || pod.metadata?.deletionTimestamp !== undefined) && !seenDeleting.has(key)) {
      seenDeleting.add(key)
      deletions.push({ node: pod.spec?.nodeName ?? "", image: pod.spec?.containers[0]?.image ?? "" })
    }
    recompute()
  }
  for (const p of initial.items) record(p, false)
  // Only the unavailability caused after the watch starts counts; the initial state is all Ready.
  worst = 0
  recompute()
  const controller = await new Watch(config).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { labelSelector: `app=${app}`, resourceVersion: initial.metadata?.resourceVersion ?? "" },
    (phase, obj: V1Pod) => record(obj, phase === "DELETED"),
    () => undefined
  )
  return {
    maxUnavailable: () => worst,
    deletions: () => [...deletions],
    zoneSequence: (zoneOf) => deletions.map((d) => zoneOf.get(d.node) ?? "?"),
    stop: () => controller.abort()
  }
}

/** node name → zone label, for the nodes of a test. */
export async function zonesOf(names: ReadonlyArray<string>): Promise<ReadonlyMap<string, string>> {
  const nodes = (await kube().core.listNode()).items
  const wanted = new Set(names)
  return new Map(
    nodes
      .filter((n) => wanted.has(n.metadata?.name ?? ""))
      .map((n) => [n.metadata?.name ?? "", n.metadata?.labels?.[ZONE_LABEL] ?? ""])
  )
}

/** The DaemonSet's pods once the rollout is over: one per node, with its image and readiness. */
export async function podImages(namespace: string, app: string, core: CoreV1Api = kube().core) {
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items
  return pods
    .filter((p) => p.metadata?.deletionTimestamp === undefined)
    .map((p) => ({
      node: p.spec?.nodeName ?? "",
      image: p.spec?.containers[0]?.image ?? "",
      ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false
    }))
}
