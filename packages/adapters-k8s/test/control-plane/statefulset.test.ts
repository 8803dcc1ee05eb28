/** The real StatefulSet controller: partitioned rolling updates, on kwok nodes. */
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node"
import { expect, it } from "vitest"
import { describeWithCluster, kube, mergePatch, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { containerImage, isPodReady, podTemplate } from "../support/workloads.js"

const NAME = "db"
const LABELS = { app: NAME }
const V1 = "registry.invalid/db:1"
const V2 = "registry.invalid/db:2"

const summary = (s: V1StatefulSet) => ({
  generation: s.metadata?.generation,
  observedGeneration: s.status?.observedGeneration,
  replicas: s.status?.replicas,
  ready: s.status?.readyReplicas,
  updated: s.status?.updatedReplicas,
  current: s.status?.currentRevision,
  update: s.status?.updateRevision
})

const ordinal = (p: V1Pod): number => Number(p.metadata?.name?.slice(NAME.length + 1))

describeWithCluster("StatefulSet on the test control plane", () => {
  const nodes = useKwokNodes(2)
  const ns = useTestNamespace("sluice-sts")

  const read = () => kube().apps.readNamespacedStatefulSet({ name: NAME, namespace: ns() })
  const podsByOrdinal = async (): Promise<V1Pod[]> => {
    const list = await kube().core.listNamespacedPod({ namespace: ns(), labelSelector: `app=${NAME}` })
    return [...list.items].sort((a, b) => ordinal(a) - ordinal(b))
  }
  const setPartition = (partition: number) =>
    kube().apps.patchNamespacedStatefulSet(
      {
        name: NAME,
        namespace: ns(),
        body: { spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition } } } }
      },
      mergePatch
    )

  it("with partition 3, an image change updates only ordinals 3 and 4", async () => {
    const { apps, core } = kube()
    await core.createNamespacedService({
      namespace: ns(),
      body: { metadata: { name: NAME }, spec: { clusterIP: "None", selector: LABELS, ports: [{ port: 5432 }] } }
    })
    await apps.createNamespacedStatefulSet({
      namespace: ns(),
      body: {
        metadata: { name: NAME },
        spec: {
          serviceName: NAME,
          replicas: 5,
          selector: { matchLabels: LABELS },
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 3 } },
          template: podTemplate({ labels: LABELS, image: V1, pool: nodes().pools[0] as string })
        }
      }
    })
    const initial = await waitFor("5 ready replicas", async () => {
      const s = await read()
      return s.status?.readyReplicas === 5 && s.status.currentRevision === s.status.updateRevision
        ? s
        : notYet(summary(s))
    })
    const v1Revision = initial.status?.currentRevision

    await apps.patchNamespacedStatefulSet(
      {
        name: NAME,
        namespace: ns(),
        body: { spec: { template: { spec: { containers: [{ name: "app", image: V2 }] } } } }
      },
      mergePatch
    )
    const updated = await waitFor("ordinals >= 3 to be updated and Ready", async () => {
      const s = await read()
      const done =
        (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) &&
        s.status?.updateRevision !== v1Revision &&
        s.status?.updatedReplicas === 2 &&
        s.status?.readyReplicas === 5
      return done ? s : notYet(summary(s))
    })
    const v2Revision = updated.status?.updateRevision
    expect(updated.status?.currentRevision).toBe(v1Revision)

    const pods = await podsByOrdinal()
    expect(pods.map(ordinal)).toEqual([0, 1, 2, 3, 4])
    expect(pods.map(containerImage)).toEqual([V1, V1, V1, V2, V2])
    expect(pods.map((p) => p.metadata?.labels?.["controller-revision-hash"])).toEqual([
      v1Revision,
      v1Revision,
      v1Revision,
      v2Revision,
      v2Revision
    ])
    expect(pods.every(isPodReady)).toBe(true)
  })

  it("lowering the partition to 0 updates the remaining ordinals", async () => {
    await setPartition(0)
    const done = await waitFor("all 5 ordinals to be updated", async () => {
      const s = await read()
      return s.status?.updatedReplicas === 5 &&
        s.status.readyReplicas === 5 &&
        s.status.currentRevision === s.status.updateRevision
        ? s
        : notYet(summary(s))
    })
    const pods = await podsByOrdinal()
    expect(pods.map(containerImage)).toEqual([V2, V2, V2, V2, V2])
    expect(new Set(pods.map((p) => p.metadata?.labels?.["controller-revision-hash"]))).toEqual(
      new Set([done.status?.updateRevision])
    )
  })
})
