/**
 * Nodes are not fixed: one leaves and one joins while a DaemonSet rollout runs; and a selector's
 * `nodeSelector` rolls only some nodes, which keeps the DaemonSet on OnDelete afterwards.
 */
import { makeMemoryStore, type RolloutEvent } from "@sluice/core"
import { Effect } from "effect"
import { beforeAll, expect, it } from "vitest"
import { ANNOTATION } from "../../src/index.js"
import { describeWithCluster, kube } from "../support/cluster.js"
import { createKwokNodes, useKwokNodes } from "../support/nodes.js"
import { createAgentDaemonSet, IMAGE, podImages } from "./support/daemonset.js"
import { runRollout } from "./support/rollout.js"

const NODES = 12

const spec = (
  namespace: string,
  name: string,
  extra = "",
  strategy = "{ rolling: { batchSize: 2, maxUnavailable: 2 } }"
) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${name} }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${namespace}, kind: DaemonSet, name: ${name}${extra} }
  artifact: { image: "${IMAGE("2.0.0")}" }
  strategy: ${strategy}
  health: { progressDeadline: 60s, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`

describeWithCluster("DaemonSet rollouts while nodes come and go", () => {
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b"] })
  let namespace = ""
  beforeAll(async () => {
    namespace = `sluice-churn-${Math.random().toString(16).slice(2, 8)}`
    await kube().core.createNamespace({ body: { metadata: { name: namespace } } })
  })

  it("a node that leaves is reported and skipped, a node that joins gets the new version; the rollout completes", async () => {
    const name = "agent-churn"
    const pool = nodes().pools[0] ?? ""
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool, nodes: NODES })
    const store = makeMemoryStore()
    const rolloutId = "ds-churn"
    let leaving = ""
    let joined: Promise<{ names: readonly string[] }> | undefined
    const events: RolloutEvent[] = []
    const run = await runRollout({
      spec: spec(
        namespace,
        name,
        "",
        "{ canary: { steps: [ { setWeight: 20 }, { pause: {} } ], maxUnavailable: 2, rolling: { batchSize: 2, maxUnavailable: 2 } } }"
      ),
      rolloutId,
      store,
      onEvent: (e) => {
        events.push(e)
        if (e.type === "paused" && joined === undefined) {
          // A node of a later wave leaves before its turn, and a new node of the same pool joins.
          const first = events.flatMap((x) => (x.type === "targetUpdating" ? [x.targetId] : []))
          leaving = nodes().names.find((n) => !first.some((id) => id.endsWith(`/${n}`))) ?? ""
          joined = kube()
            .core.deleteNode({ name: leaving })
            .then(() => createKwokNodes(1, { pools: [pool], zones: ["zone-a"], namePrefix: "joiner" }))
            .then(async (added) => {
              await Effect.runPromise(
                store.sendControl(rolloutId, { id: "resume-1", signal: "RESUME", at: Date.now() })
              )
              return added
            })
        }
      }
    })
    const newcomer = (await joined)?.names[0] ?? ""
    expect(leaving).not.toBe("")
    expect(run.result.outcome).toBe("completed")
    const left = events.find(
      (e) => e.type === "healthChanged" && e.targetId.endsWith(`/${leaving}`) && e.status === "healthy"
    )
    expect(left?.type === "healthChanged" && left.reason).toContain("left the cluster")
    // The newcomer runs the new version (the DaemonSet's template), and the strategy is back.
    const pods = await podImages(namespace, name)
    const onNewcomer = pods.find((p) => p.node === newcomer)
    expect(onNewcomer?.image).toBe(IMAGE("2.0.0"))
    expect(pods.filter((p) => p.node !== leaving).every((p) => p.image === IMAGE("2.0.0"))).toBe(true)
    const ds = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
  }, 240_000)

  it("a nodeSelector rolls only the selected nodes; the others keep the old version and the DaemonSet stays OnDelete, with a note", async () => {
    const name = "agent-partial"
    const pool = nodes().pools[0] ?? ""
    const present = (await kube().core.listNode({ labelSelector: `sluice.dev/pool=${pool}` })).items.length
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool, nodes: present })
    // Zone a as the cluster has it now (the newcomer of the test above joined it).
    const zoneA = new Set(
      (
        await kube().core.listNode({ labelSelector: `sluice.dev/pool=${pool},topology.kubernetes.io/zone=zone-a` })
      ).items.map((n) => n.metadata?.name ?? "")
    )
    const events: RolloutEvent[] = []
    const run = await runRollout({
      spec: spec(namespace, name, ", nodeSelector: { topology.kubernetes.io/zone: zone-a }"),
      rolloutId: "ds-partial",
      onEvent: (e) => events.push(e)
    })
    expect(run.result.outcome).toBe("completed")
    const rolledNodes = run.result.updated.map((id) => id.split("/").at(-1) ?? "")
    expect(rolledNodes.length).toBeGreaterThan(0)
    for (const n of rolledNodes) expect(zoneA.has(n)).toBe(true)
    const pods = await podImages(namespace, name)
    for (const p of pods) expect(p.image).toBe(zoneA.has(p.node) ? IMAGE("2.0.0") : IMAGE("1.0.0"))
    const ds = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(ds.spec?.updateStrategy?.type).toBe("OnDelete")
    expect(ds.metadata?.annotations?.[ANNOTATION.held]).toContain("previous revision")
    const concluded = events.find((e) => e.type === "concluded")
    expect(concluded?.type === "concluded" && concluded.notes.join("\n")).toContain("left on OnDelete")
  }, 240_000)
})
