/**
 * DaemonSet node waves through the real interpreter on the real control plane (kube-apiserver,
 * kube-controller-manager's DaemonSet controller, kube-scheduler, kwok nodes): what the cluster
 * saw is checked from a watch of its own, not from Sluice's events.
 */
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import type { RolloutEvent } from "@sluice/core"
import { afterEach, beforeAll, expect, it } from "vitest"
import { ANNOTATION } from "../../src/index.js"
import { describeWithCluster, kube } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { createAgentDaemonSet, IMAGE, type PodWatch, podImages, watchPods, zonesOf } from "./support/daemonset.js"
import { runRollout } from "./support/rollout.js"

const NODES = 100
const ZONES = ["zone-a", "zone-b", "zone-c"]

const spec = (o: {
  namespace: string
  name: string
  image: string
  strategy?: string
  deadline?: string
  policy?: boolean
  topology?: string
}) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${o.name} }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${o.namespace}, kind: DaemonSet, name: ${o.name} }
  artifact: { image: "${o.image}" }
  strategy: ${o.strategy ?? "{ rolling: { batchSize: 10%, maxUnavailable: 10% } }"}
  topology: ${o.topology ?? "{ key: topology.kubernetes.io/zone }"}
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates: { policy: { enabled: ${o.policy ?? true} }, scan: { enabled: false } }
  rollback: { onFailure: true, onAbort: true }
`

describeWithCluster("DaemonSet node waves (kubernetes adapter)", () => {
  const nodes = useKwokNodes(NODES, { zones: ZONES })
  let namespace = ""
  let watch: PodWatch | undefined

  beforeAll(async () => {
    namespace = `sluice-dsw-${Math.random().toString(16).slice(2, 8)}`
    await kube().core.createNamespace({ body: { metadata: { name: namespace } } })
  })
  afterEach(() => watch?.stop())

  it(`rolls v2 over ${NODES} nodes zone by zone in waves of 10%: never more nodes down than a wave allows, strategy restored`, async () => {
    const name = "agent"
    const before = await createAgentDaemonSet({
      namespace,
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      nodes: NODES
    })
    const targetNodes = nodes().names
    watch = await watchPods(namespace, name, targetNodes)
    const events: RolloutEvent[] = []
    const run = await runRollout({
      spec: spec({
        namespace,
        name,
        image: IMAGE("2.0.0"),
        topology: "{ key: topology.kubernetes.io/zone, order: sequential, values: [zone-c, zone-a, zone-b] }"
      }),
      rolloutId: "ds-waves",
      onEvent: (e) => events.push(e)
    })
    expect(run.result.outcome).toBe("completed")
    expect(run.result.updated).toHaveLength(NODES)

    // What the cluster saw: each node's pod replaced exactly once, never more than 10 nodes down.
    const deletions = watch.deletions()
    expect(deletions).toHaveLength(NODES)
    expect(new Set(deletions.map((d) => d.node)).size).toBe(NODES)
    expect(deletions.every((d) => d.image === IMAGE("1.0.0"))).toBe(true)
    expect(watch.maxUnavailable()).toBeGreaterThan(0)
    expect(watch.maxUnavailable()).toBeLessThanOrEqual(10)
    // Zone by zone, in the order asked for, as the cluster saw it: once a zone is left it never
    // comes back, and every wave stays in one zone.
    const zones = await zonesOf(targetNodes)
    const sequence = watch.zoneSequence(zones)
    const order = sequence.filter((z, i) => i === 0 || sequence[i - 1] !== z)
    expect(order).toEqual(["zone-c", "zone-a", "zone-b"])
    for (const w of events) if (w.type === "waveStarted") expect(Object.keys(w.byTopology)).toHaveLength(1)

    const pods = await podImages(namespace, name)
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)

    const after = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    const concluded = events.find((e) => e.type === "concluded")
    expect(concluded?.type === "concluded" && concluded.notes.join("\n")).toContain(
      "update strategy RollingUpdate restored"
    )
  }, 300_000)

  it("a version that never becomes Ready fails its wave at the deadline and rolls back: template and pods as before", async () => {
    const name = "agent-bad"
    const before = await createAgentDaemonSet({
      namespace,
      name,
      image: IMAGE("2.0.0"),
      pool: nodes().pools[0] ?? "",
      nodes: NODES
    })
    watch = await watchPods(namespace, name, nodes().names)
    const run = await runRollout({
      spec: spec({
        namespace,
        name,
        image: IMAGE("2.1.0-never-ready"),
        strategy: "{ canary: { steps: [ { setWeight: 5 }, { setWeight: 50 } ], maxUnavailable: 5 } }",
        deadline: "10s"
      }),
      rolloutId: "ds-never-ready"
    })
    expect(run.result.outcome).toBe("rolledBack")
    expect(run.result.reason).toMatch(/deadline|not ready|unhealthy/)
    // Only the first canary wave was touched, and every touched node is back.
    expect(run.result.touched.length).toBeGreaterThan(0)
    expect(run.result.touched.length).toBeLessThanOrEqual(5)
    expect([...run.result.rolledBack].sort()).toEqual([...run.result.touched].sort())
    expect(watch.maxUnavailable()).toBeLessThanOrEqual(5)

    const after = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(after.spec?.template).toEqual(before.spec?.template)
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    const pods = await podImages(namespace, name)
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
    // Untouched nodes were never touched: deletions only on touched nodes (once forward, once back).
    const touchedNodes = new Set(run.result.touched.map((id) => id.split("/").at(-1)))
    for (const d of watch.deletions()) expect(touchedNodes.has(d.node)).toBe(true)
  }, 300_000)

  it("a workload the policy denies (root) touches nothing: same resourceVersion, no pod deleted", async () => {
    const name = "agent-root"
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool: nodes().pools[0] ?? "", nodes: NODES })
    // v2 of this agent runs as root: the pod-level securityContext is changed by hand to say so,
    // as a chart upgrade would, and the rollout of a new image is gated on the result.
    const { apps } = kube()
    const current = await apps.readNamespacedDaemonSet({ name, namespace })
    await apps.replaceNamespacedDaemonSet({
      name,
      namespace,
      body: {
        ...current,
        spec: {
          ...current.spec!,
          updateStrategy: { type: "OnDelete" },
          template: {
            ...current.spec!.template,
            spec: {
              ...current.spec!.template.spec!,
              securityContext: { runAsUser: 0 },
              containers: current.spec!.template.spec!.containers.map((c) => ({
                ...c,
                securityContext: { runAsUser: 0, runAsNonRoot: false }
              }))
            }
          }
        }
      }
    })
    // Let the DaemonSet controller finish writing its status for that change, so the
    // resourceVersion below can only move if someone touches the DaemonSet.
    let last = ""
    const frozen = await waitFor(
      "the DaemonSet's status to settle",
      async () => {
        const d = await apps.readNamespacedDaemonSet({ name, namespace })
        const settled = d.status?.observedGeneration === d.metadata?.generation && d.metadata?.resourceVersion === last
        last = d.metadata?.resourceVersion ?? ""
        return settled ? d : notYet(d.status)
      },
      { intervalMs: 1000, timeoutMs: 60_000 }
    )
    watch = await watchPods(namespace, name, nodes().names)
    const run = await runRollout({ spec: spec({ namespace, name, image: IMAGE("2.0.0") }), rolloutId: "ds-denied" })
    expect(run.result.outcome).toBe("blocked")
    expect(run.result.violations.some((v) => v.rule.startsWith("non-root"))).toBe(true)
    const after = await apps.readNamespacedDaemonSet({ name, namespace })
    expect(after.metadata?.resourceVersion).toBe(frozen.metadata?.resourceVersion)
    expect(watch.deletions()).toHaveLength(0)
  }, 300_000)

  it("a DaemonSet another rollout is driving is refused: no pod deleted, its annotations left as they are", async () => {
    const name = "agent-owned"
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool: nodes().pools[0] ?? "", nodes: NODES })
    const { apps } = kube()
    await apps.patchNamespacedDaemonSet(
      { name, namespace, body: { metadata: { annotations: { [ANNOTATION.rollout]: "someone-else" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
    )
    watch = await watchPods(namespace, name, nodes().names)
    const run = await runRollout({
      spec: spec({
        namespace,
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ rolling: { batchSize: 10, maxUnavailable: 10 } }"
      }),
      rolloutId: "ds-owned",
      operations: { retries: 0 }
    })
    expect(run.result.outcome).not.toBe("completed")
    expect(run.result.reason).toContain("is being driven by rollout someone-else")
    expect(watch.deletions()).toHaveLength(0)
    const after = await apps.readNamespacedDaemonSet({ name, namespace })
    expect(after.metadata?.annotations?.[ANNOTATION.rollout]).toBe("someone-else")
    expect(after.spec?.template.spec?.containers[0]?.image).toBe(IMAGE("1.0.0"))
  }, 300_000)
})
