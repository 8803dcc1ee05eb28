/** The real DaemonSet controller (with the scheduler) across 100 kwok nodes. */
import { expect, it } from "vitest"
import { describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { ZONE_LABEL, useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { isPodReady, podTemplate } from "../support/workloads.js"

const NODES = 100
const NAME = "agent"
const LABELS = { app: NAME }

describeWithCluster("DaemonSet on the test control plane", () => {
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b", "zone-c"] })
  const ns = useTestNamespace("sluice-ds")

  it(`runs exactly one Ready pod on each of ${NODES} kwok nodes`, async () => {
    const { apps, core } = kube()
    await apps.createNamespacedDaemonSet({
      namespace: ns(),
      body: {
        metadata: { name: NAME },
        spec: {
          selector: { matchLabels: LABELS },
          template: podTemplate({ labels: LABELS, image: "registry.invalid/agent:1", pool: nodes().pools[0] as string })
        }
      }
    })
    const ds = await waitFor(
      `${NODES} daemon pods to be available`,
      async () => {
        const d = await apps.readNamespacedDaemonSet({ name: NAME, namespace: ns() })
        const s = d.status
        return s?.desiredNumberScheduled === NODES && s.numberAvailable === NODES && s.updatedNumberScheduled === NODES
          ? d
          : notYet({
              desired: s?.desiredNumberScheduled,
              scheduled: s?.currentNumberScheduled,
              ready: s?.numberReady,
              available: s?.numberAvailable
            })
      },
      { timeoutMs: 150_000 }
    )
    expect(ds.status?.numberMisscheduled).toBe(0)

    const pods = (await core.listNamespacedPod({ namespace: ns(), labelSelector: `app=${NAME}` })).items
    expect(pods).toHaveLength(NODES)
    expect(pods.every(isPodReady)).toBe(true)
    const podNodes = pods.map((p) => p.spec?.nodeName ?? "")
    expect(new Set(podNodes).size).toBe(NODES)
    expect([...podNodes].sort()).toEqual([...nodes().names].sort())

    const zones = (await core.listNode()).items
      .filter((n) => podNodes.includes(n.metadata?.name ?? ""))
      .map((n) => n.metadata?.labels?.[ZONE_LABEL])
    expect(new Set(zones)).toEqual(new Set(["zone-a", "zone-b", "zone-c"]))
  }, 180_000)
})
