/**
 * resourceVersion conflicts, forced on the real apiserver. The adapter reaches the control plane
 * through a proxy that, before forwarding each write the adapter sends to a workload with a
 * resourceVersion precondition, writes to that same object itself (see support/conflicts.ts): the
 * apiserver answers the adapter's write with a real 409, every time, once per write. Each rollout
 * must still end as it would without the concurrent writer, with the writer's own change kept.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeMemoryStore, type RolloutEvent } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, expect, it } from "vitest"
import { ANNOTATION } from "../../src/index.js"
import { clusterInfo, describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import {
  CONCURRENT_ANNOTATION,
  type ConflictProxy,
  type ConflictRecord,
  startConflictProxy
} from "./support/conflicts.js"
import { createAgentDaemonSet, IMAGE, type PodWatch, podImages, watchPods } from "./support/daemonset.js"
import { createWebDeployment, podImagesOf, readDeployment, WEB_IMAGE, waitRolledOut } from "./support/deployment.js"
import { runRollout } from "./support/rollout.js"
import { createStatefulSet, ordinalStates, statefulSetSummary } from "./support/statefulset.js"

const NODES = 6

const spec = (o: { selector: string; image: string; strategy: string; deadline?: string; approval?: string }) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: conflicts }
spec:
  target:
    adapter: kubernetes
    selector: ${o.selector}
  artifact: { image: "${o.image}" }
  strategy: ${o.strategy}
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates:
    policy: { enabled: true }
    scan: { enabled: false }
    manualApproval: { before: ${o.approval ?? "none"} }
  rollback: { onFailure: true, onAbort: true }
`

/** What a write was, from its body: the rollout's preparation, a restore from a ControllerRevision or template, or conclude. */
const phaseOf = (w: ConflictRecord): string => {
  if (w.body.includes(`"${ANNOTATION.rollout}":null`)) return "conclude"
  if (w.body.includes('"$patch":"replace"') && !w.body.includes(`"${ANNOTATION.rollout}":"`)) return "restore"
  if (w.body.includes('"partition"') && !w.body.includes('"template"')) return "partition"
  return "prepare"
}

/**
 * Every write that landed was refused once first: the write before it to the same object was the
 * 409 the concurrent writer caused. Returns the phases that were conflicted and then landed.
 */
const everyWriteConflictedOnce = (writes: ReadonlyArray<ConflictRecord>): ReadonlyArray<string> => {
  const landed: Array<string> = []
  for (const [i, w] of writes.entries()) {
    if (w.status === 409) continue
    expect(w.status, `${w.path}: ${w.body}`).toBe(200)
    const previous = writes
      .slice(0, i)
      .filter((p) => p.path === w.path)
      .at(-1)
    expect(previous?.status, `the write before ${phaseOf(w)} of ${w.path}`).toBe(409)
    landed.push(phaseOf(w))
  }
  return landed
}

/** The interpreter's retry events for a conflict. */
const conflictRetries = (events: ReadonlyArray<RolloutEvent>) =>
  events.filter((e) => e.type === "retrying" && /HTTP 409/.test(e.message))

describeWithCluster("resourceVersion conflicts (kubernetes adapter)", () => {
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b", "zone-c"] })
  const ns = useTestNamespace("sluice-409")
  let proxy: ConflictProxy
  let watch: PodWatch | undefined
  afterEach(() => watch?.stop())
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-409-"))
    proxy = await startConflictProxy(clusterInfo().kubeconfig ?? "", join(dir, "kubeconfig"))
  })
  afterAll(() => proxy?.stop())
  const adapter = () => ({ kubeconfig: proxy.kubeconfig })
  const writesTo = (path: string, from: number) =>
    proxy
      .writes()
      .slice(from)
      .filter((w) => w.path === path)

  it("DaemonSet: prepare, restore and conclude each meet a 409 and are retried; the rollout and the rollback end as without it", async () => {
    const namespace = ns()
    const name = "agent-409"
    const path = `${namespace}/daemonsets/${name}`
    const before = await createAgentDaemonSet({
      namespace,
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      nodes: NODES
    })
    const selector = `{ namespace: ${namespace}, kind: DaemonSet, name: ${name} }`

    // v2, completed.
    watch = await watchPods(namespace, name, nodes().names)
    const from = proxy.writes().length
    const good = await runRollout({
      spec: spec({ selector, image: IMAGE("2.0.0"), strategy: "{ rolling: { batchSize: 50%, maxUnavailable: 50% } }" }),
      rolloutId: "ds-409",
      adapter: adapter()
    })
    expect(good.result.outcome).toBe("completed")
    expect(good.result.updated).toHaveLength(NODES)
    expect(everyWriteConflictedOnce(writesTo(path, from))).toEqual(["prepare", "conclude"])
    expect(conflictRetries(good.events).length).toBeGreaterThanOrEqual(2)
    // Each node's pod replaced exactly once; every pod on v2 and Ready.
    expect(watch?.deletions()).toHaveLength(NODES)
    expect(new Set((watch?.deletions() ?? []).map((d) => d.node)).size).toBe(NODES)
    const pods = await podImages(namespace, name)
    expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
    const v2 = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(v2.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(v2.metadata?.annotations?.[key]).toBeUndefined()
    // The concurrent writer's change survived the adapter's writes.
    expect(v2.metadata?.annotations?.[CONCURRENT_ANNOTATION]).toBe(String(proxy.concurrentWrites().get(path)))

    // v2.1 never becomes Ready: the rollback restores v2's template through a conflict too.
    watch = await watchPods(namespace, name, nodes().names)
    const from2 = proxy.writes().length
    const bad = await runRollout({
      spec: spec({
        selector,
        image: IMAGE("2.1.0-never-ready"),
        strategy: "{ rolling: { batchSize: 2, maxUnavailable: 2 } }",
        deadline: "8s"
      }),
      rolloutId: "ds-409-bad",
      adapter: adapter()
    })
    expect(bad.result.outcome).toBe("rolledBack")
    expect([...bad.result.rolledBack].sort()).toEqual([...bad.result.touched].sort())
    expect(everyWriteConflictedOnce(writesTo(path, from2))).toEqual(["prepare", "restore", "conclude"])
    const after = await kube().apps.readNamespacedDaemonSet({ name, namespace })
    expect(after.spec?.template).toEqual(v2.spec?.template)
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    await waitFor("every pod back on v2 and Ready", async () => {
      const now = await podImages(namespace, name)
      return now.length === NODES && now.every((p) => p.image === IMAGE("2.0.0") && p.ready) ? now : notYet(now)
    })
    // Only the touched nodes' pods were deleted (forward once, back once).
    const touched = new Set(bad.result.touched.map((id) => id.split("/").at(-1)))
    expect(watch?.deletions()).toHaveLength(2 * touched.size)
    for (const d of watch?.deletions() ?? []) expect(touched.has(d.node)).toBe(true)
  }, 300_000)

  it("StatefulSet: prepare, every partition step, restore and conclude each meet a 409; waves and rollback end as without it", async () => {
    const namespace = ns()
    const name = "db-409"
    const path = `${namespace}/statefulsets/${name}`
    const before = await createStatefulSet({
      namespace,
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: 4
    })
    const oldRevision = before.status?.updateRevision
    const store = makeMemoryStore()
    const rolloutId = "sts-409"
    let approvals = Promise.resolve()
    const from = proxy.writes().length
    // Waves: ordinal 3, then 2, then 1 and 0; the operator aborts before the last one.
    const run = await runRollout({
      spec: spec({
        selector: `{ namespace: ${namespace}, kind: StatefulSet, name: ${name} }`,
        image: IMAGE("2.0.0"),
        strategy: "{ partition: { partitions: [3, 2, 0] } }",
        approval: "[2]"
      }),
      rolloutId,
      store,
      adapter: adapter(),
      onEvent: (e) => {
        if (e.type === "awaitingApproval")
          approvals = approvals.then(() =>
            Effect.runPromise(store.sendControl(rolloutId, { id: "abort", signal: "ABORT", at: Date.now() }))
          )
      }
    })
    await approvals
    expect(run.result.outcome).toBe("aborted")
    const touched = [2, 3].map((o) => `${namespace}/statefulset/${name}/${o}`)
    expect([...run.result.touched].sort()).toEqual(touched)
    expect([...run.result.rolledBack].sort()).toEqual(touched)
    expect(everyWriteConflictedOnce(writesTo(path, from))).toEqual([
      "prepare",
      "partition",
      "partition",
      "restore",
      "conclude"
    ])
    expect(conflictRetries(run.events).length).toBeGreaterThanOrEqual(5)
    const after = await waitFor(
      "every pod back on the old revision and Ready",
      async () => {
        const s = await kube().apps.readNamespacedStatefulSet({ name, namespace })
        const pods = await ordinalStates(namespace, name)
        const back = pods.length === 4 && pods.every((p) => p.revision === oldRevision && p.ready)
        return back ? s : notYet({ sts: statefulSetSummary(s), pods })
      },
      { timeoutMs: 90_000 }
    )
    expect(after.spec?.template).toEqual(before.spec?.template)
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    expect(after.metadata?.annotations?.[CONCURRENT_ANNOTATION]).toBe(String(proxy.concurrentWrites().get(path)))
  }, 300_000)

  it("Deployment: the template change, its restore and conclude each meet a 409; the rollback restores the template exactly", async () => {
    const namespace = ns()
    const name = "web-409"
    const path = `${namespace}/deployments/${name}`
    await createWebDeployment({
      namespace,
      name,
      image: WEB_IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      progressDeadlineSeconds: 3
    })
    const selector = `{ namespace: ${namespace}, kind: Deployment, name: ${name} }`
    const from = proxy.writes().length
    const good = await runRollout({
      spec: spec({ selector, image: WEB_IMAGE("2.0.0"), strategy: "{ rolling: { batchSize: 1 } }" }),
      rolloutId: "dep-409",
      adapter: adapter()
    })
    expect(good.result.outcome).toBe("completed")
    expect(everyWriteConflictedOnce(writesTo(path, from))).toEqual(["prepare", "conclude"])
    const v2 = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))

    const from2 = proxy.writes().length
    const bad = await runRollout({
      spec: spec({
        selector,
        image: WEB_IMAGE("2.1.0-never-ready"),
        strategy: "{ rolling: { batchSize: 1 } }",
        deadline: "60s"
      }),
      rolloutId: "dep-409-bad",
      adapter: adapter()
    })
    expect(bad.result.outcome).toBe("rolledBack")
    expect(everyWriteConflictedOnce(writesTo(path, from2))).toEqual(["prepare", "restore", "conclude"])
    const after = await waitRolledOut(namespace, name, WEB_IMAGE("2.0.0"))
    expect(after.spec?.template).toEqual(v2.spec?.template)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    expect((await readDeployment(namespace, name)).metadata?.annotations?.[CONCURRENT_ANNOTATION]).toBe(
      String(proxy.concurrentWrites().get(path))
    )
    expect((await podImagesOf(namespace, `app=${name}`)).every((i) => i === WEB_IMAGE("2.0.0"))).toBe(true)
  }, 300_000)
})
