/**
 * StatefulSet partition waves through the real interpreter on the real control plane (the
 * StatefulSet controller of kube-controller-manager, kube-scheduler, kwok nodes). What the cluster
 * did is read from the apiserver (a pod watch, lists while the rollout waits for an approval), not
 * from Sluice's events.
 */
import {
  type ControlSignal,
  makeMemoryStore,
  type Plan,
  type RolloutEvent,
  type RolloutStoreShape,
  type Target,
  type Wave
} from "@sluice/core"
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { ANNOTATION, type TargetData } from "../../src/index.js"
import { validateStatefulSetPlan } from "../../src/statefulset.js"
import { describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes, ZONE_LABEL } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { asWritten } from "../support/workloads.js"
import { IMAGE } from "./support/daemonset.js"
import { runRollout } from "./support/rollout.js"
import {
  createStatefulSet,
  type OrdinalState,
  ordinalStates,
  type StatefulSetPodWatch,
  statefulSetSummary,
  watchStatefulSetPods
} from "./support/statefulset.js"

const ZONES = ["zone-a", "zone-b", "zone-c"]
const REPLICAS = 5

const spec = (o: {
  namespace: string
  name: string
  image: string
  strategy: string
  deadline?: string
  approval?: string
  rollbackOnAbort?: boolean
  /** Spread waves over zones (default); without it a rolling plan takes the targets in id order. */
  topology?: boolean
}) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${o.name} }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${o.namespace}, kind: StatefulSet, name: ${o.name} }
  artifact: { image: "${o.image}" }
  strategy: ${o.strategy}${o.topology === false ? "" : `\n  topology: { key: ${ZONE_LABEL} }`}
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates:
    policy: { enabled: true }
    scan: { enabled: false }
    manualApproval: { before: ${o.approval ?? "none"} }
  rollback: { onFailure: true, onAbort: ${o.rollbackOnAbort ?? true} }
`

/**
 * Answers each wave's approval request: runs `look` while the rollout waits (nothing moves then),
 * and sends the signal it returns. Errors are kept for the test to check; the signal is always sent.
 */
const answerApprovals = (
  store: RolloutStoreShape,
  rolloutId: string,
  look: (wave: number) => Promise<ControlSignal>
) => {
  const failures: unknown[] = []
  let chain = Promise.resolve()
  const onEvent = (e: RolloutEvent) => {
    if (e.type !== "awaitingApproval") return
    chain = chain.then(async () => {
      let signal: ControlSignal = "APPROVE"
      try {
        signal = await look(e.wave)
      } catch (error) {
        failures.push(error)
      } finally {
        await Effect.runPromise(store.sendControl(rolloutId, { id: `${signal}-${e.wave}`, signal, at: Date.now() }))
      }
    })
  }
  return { onEvent, done: () => chain.then(() => failures) }
}

/** "old"/"new" per ordinal, as the apiserver lists the pods. */
const roll = (states: ReadonlyArray<OrdinalState>, oldRevision: string | undefined) =>
  states.map((s) => `${s.ordinal}:${s.revision === oldRevision ? "old" : "new"}`)

describeWithCluster("StatefulSet partition waves (kubernetes adapter)", () => {
  const nodes = useKwokNodes(3, { zones: ZONES })
  const ns = useTestNamespace("sluice-stsw")
  let watch: StatefulSetPodWatch | undefined
  afterEach(() => watch?.stop())

  const read = (name: string) => kube().apps.readNamespacedStatefulSet({ name, namespace: ns() })

  it("lowers the partition wave by wave from the highest ordinal: each wave updates only its ordinals; strategy restored", async () => {
    const name = "db"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: REPLICAS
    })
    const oldRevision = before.status?.updateRevision
    watch = await watchStatefulSetPods(ns(), name)

    // Every wave waits for an approval: while it waits nothing moves, so what the apiserver lists
    // then is exactly what the waves before it did.
    const store = makeMemoryStore()
    const rolloutId = "sts-waves"
    const seen: Array<{ wave: number; pods: ReadonlyArray<string>; partition: number | undefined; rv?: string }> = []
    const approvals = answerApprovals(store, rolloutId, async (wave) => {
      const sts = await read(name)
      seen.push({
        wave,
        pods: roll(await ordinalStates(ns(), name), oldRevision),
        partition: sts.spec?.updateStrategy?.rollingUpdate?.partition,
        ...(sts.metadata?.resourceVersion === undefined ? {} : { rv: sts.metadata.resourceVersion })
      })
      return "APPROVE"
    })
    const run = await runRollout({
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ partition: { partitions: [4, 2, 0] } }",
        approval: "every"
      }),
      rolloutId,
      store,
      onEvent: approvals.onEvent
    })
    expect(await approvals.done()).toEqual([])
    expect(run.result.outcome).toBe("completed")
    expect([...run.result.updated].sort()).toEqual(
      Array.from({ length: REPLICAS }, (_, i) => `${ns()}/statefulset/${name}/${i}`)
    )

    // The waves the planner made, highest ordinal first; targets carry their node's zone.
    const started = run.events.filter((e) => e.type === "waveStarted")
    expect(started.map((w) => w.targets)).toEqual([1, 2, 2])
    for (const w of started) {
      expect(Object.values(w.byTopology).reduce((a, b) => a + b, 0)).toBe(w.targets)
      for (const zone of Object.keys(w.byTopology)) expect(ZONES).toContain(zone)
    }

    // What the cluster looked like before each wave: untouched first, then exactly the ordinals
    // of the waves before, with the partition at the last wave's lowest ordinal.
    expect(seen.map((s) => s.wave)).toEqual([0, 1, 2])
    expect(seen[0]?.rv).toBe(before.metadata?.resourceVersion)
    expect(seen.map((s) => s.pods)).toEqual([
      ["0:old", "1:old", "2:old", "3:old", "4:old"],
      ["0:old", "1:old", "2:old", "3:old", "4:new"],
      ["0:old", "1:old", "2:new", "3:new", "4:new"]
    ])
    expect(seen.slice(1).map((s) => s.partition)).toEqual([4, 2])

    // Each ordinal's old pod was replaced exactly once, from the highest ordinal down.
    const deletions = watch.deletions()
    expect(deletions.map((d) => d.ordinal)).toEqual([4, 3, 2, 1, 0])
    expect(deletions.every((d) => d.revision === oldRevision)).toBe(true)

    const after = await read(name)
    const pods = await ordinalStates(ns(), name)
    expect(after.status?.updateRevision).not.toBe(oldRevision)
    expect(pods.map((p) => [p.ordinal, p.revision, p.image, p.ready])).toEqual(
      pods.map((p) => [p.ordinal, after.status?.updateRevision, IMAGE("2.0.0"), true])
    )
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    expect(run.result.concluded?.notes.join("\n")).toContain("update strategy RollingUpdate (partition 0) restored")
  }, 300_000)

  it("a version that never becomes Ready fails at the deadline and rolls back: template, partition and every pod as before", async () => {
    const name = "db-bad"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("2.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: REPLICAS
    })
    const oldRevision = before.status?.updateRevision
    watch = await watchStatefulSetPods(ns(), name)
    const run = await runRollout({
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.1.0-never-ready"),
        strategy: "{ partition: { partitions: [3, 0], maxUnavailable: 2 } }",
        deadline: "10s"
      }),
      rolloutId: "sts-never-ready"
    })
    expect(run.result.outcome).toBe("rolledBack")
    expect(run.result.reason).toMatch(/deadline|not ready|unhealthy/)
    // Only the first wave (ordinals 4 and 3) was touched, and every touched ordinal is back.
    const firstWave = [`${ns()}/statefulset/${name}/3`, `${ns()}/statefulset/${name}/4`]
    expect(run.result.touched.length).toBeGreaterThan(0)
    for (const id of run.result.touched) expect(firstWave).toContain(id)
    expect([...run.result.rolledBack].sort()).toEqual([...run.result.touched].sort())

    const after = await waitFor(
      "every pod back on the old revision and Ready",
      async () => {
        const s = await read(name)
        const pods = await ordinalStates(ns(), name)
        const back =
          s.status?.updateRevision === oldRevision &&
          pods.length === REPLICAS &&
          pods.every((p) => p.revision === oldRevision && p.image === IMAGE("2.0.0") && p.ready)
        return back ? s : notYet({ sts: statefulSetSummary(s), pods })
      },
      { timeoutMs: 90_000 }
    )
    expect(after.spec?.template).toEqual(before.spec?.template)
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    // Ordinals below the first wave's partition were never touched.
    for (const d of watch.deletions()) expect(d.ordinal).toBeGreaterThanOrEqual(3)
  }, 300_000)

  it("an abort after a healthy wave rolls the updated ordinals back through the StatefulSet controller", async () => {
    const name = "db-abort"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: REPLICAS
    })
    const oldRevision = before.status?.updateRevision
    watch = await watchStatefulSetPods(ns(), name)
    const store = makeMemoryStore()
    const rolloutId = "sts-abort"
    const approvals = answerApprovals(store, rolloutId, async () => "ABORT")
    const run = await runRollout({
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ partition: { partitions: [3, 0], maxUnavailable: 2 } }",
        approval: "[1]"
      }),
      rolloutId,
      store,
      onEvent: approvals.onEvent
    })
    expect(await approvals.done()).toEqual([])
    expect(run.result.outcome).toBe("aborted")
    const firstWave = [`${ns()}/statefulset/${name}/3`, `${ns()}/statefulset/${name}/4`]
    expect([...run.result.touched].sort()).toEqual(firstWave)
    expect([...run.result.rolledBack].sort()).toEqual(firstWave)

    const after = await waitFor(
      "every pod back on the old revision and Ready",
      async () => {
        const s = await read(name)
        const pods = await ordinalStates(ns(), name)
        const back =
          s.status?.updateRevision === oldRevision &&
          pods.length === REPLICAS &&
          pods.every((p) => p.revision === oldRevision && p.image === IMAGE("1.0.0") && p.ready)
        return back ? s : notYet({ sts: statefulSetSummary(s), pods })
      },
      { timeoutMs: 90_000 }
    )
    expect(after.spec?.template).toEqual(before.spec?.template)
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    // Ordinals 4 and 3 went forward and back (highest first each time); the others were never touched.
    const deletions = watch.deletions()
    expect(deletions.map((d) => d.ordinal)).toEqual([4, 3, 4, 3])
    expect(deletions.map((d) => d.revision === oldRevision)).toEqual([true, true, false, false])
  }, 300_000)

  it("a rollback in the middle of the partition waves of a StatefulSet half-way through its own update restores template, partition and each pod's own revision", async () => {
    const name = "db-half"
    const created = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: REPLICAS
    })
    const revisionA = created.status?.updateRevision
    // The StatefulSet's own update, held by its partition: ordinals 3 and 4 run 1.5.0 (revision B),
    // 0 to 2 still run 1.0.0 (revision A, the current revision).
    await kube().apps.patchNamespacedStatefulSet(
      {
        name,
        namespace: ns(),
        body: [
          { op: "replace", path: "/spec/template/spec/containers/0/image", value: IMAGE("1.5.0") },
          {
            op: "replace",
            path: "/spec/updateStrategy",
            value: { type: "RollingUpdate", rollingUpdate: { partition: 3 } }
          }
        ]
      },
      setHeaderOptions("Content-Type", PatchStrategy.JsonPatch)
    )
    const before = await waitFor(
      "ordinals 3 and 4 on the new revision, 0 to 2 on the current one",
      async () => {
        const s = await read(name)
        const pods = await ordinalStates(ns(), name)
        const b = s.status?.updateRevision
        const ok =
          b !== revisionA &&
          (s.status?.observedGeneration ?? 0) >= (s.metadata?.generation ?? 0) &&
          pods.length === REPLICAS &&
          pods.every((p) => p.ready && p.revision === (p.ordinal >= 3 ? b : revisionA))
        return ok ? s : notYet({ sts: statefulSetSummary(s), pods })
      },
      { timeoutMs: 90_000 }
    )
    const revisionB = before.status?.updateRevision
    expect(before.status?.currentRevision).toBe(revisionA)
    watch = await watchStatefulSetPods(ns(), name)

    // Waves: ordinal 4, then 3 and 2, then 1 and 0; the operator aborts before the third.
    const store = makeMemoryStore()
    const rolloutId = "sts-half"
    const approvals = answerApprovals(store, rolloutId, async () => "ABORT")
    const run = await runRollout({
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ partition: { partitions: [4, 2, 0] } }",
        approval: "[2]"
      }),
      rolloutId,
      store,
      onEvent: approvals.onEvent
    })
    expect(await approvals.done()).toEqual([])
    expect(run.result.outcome).toBe("aborted")
    const touched = [2, 3, 4].map((o) => `${ns()}/statefulset/${name}/${o}`)
    expect([...run.result.touched].sort()).toEqual(touched)
    expect([...run.result.rolledBack].sort()).toEqual(touched)

    // Each pod back on the revision it ran before: 2 on A (it was below the partition), 3 and 4 on B.
    const after = await waitFor(
      "every pod back on its own revision and Ready",
      async () => {
        const s = await read(name)
        const pods = await ordinalStates(ns(), name)
        const back =
          pods.length === REPLICAS &&
          pods.every(
            (p) =>
              p.ready &&
              p.revision === (p.ordinal >= 3 ? revisionB : revisionA) &&
              p.image === IMAGE(p.ordinal >= 3 ? "1.5.0" : "1.0.0")
          )
        return back ? s : notYet({ sts: statefulSetSummary(s), pods })
      },
      { timeoutMs: 90_000 }
    )
    // The template is revision B's, exactly: the ControllerRevision's data and the object before.
    const revisions = await kube().apps.listNamespacedControllerRevision({
      namespace: ns(),
      labelSelector: `app=${name}`
    })
    const b = revisions.items.find((r) => r.metadata?.name === revisionB)
    expect(b).toBeDefined()
    const data = b?.data as { spec?: { template?: Record<string, unknown> } } | undefined
    const { $patch: _, ...recorded } = data?.spec?.template ?? {}
    expect(after.spec?.template).toEqual(recorded)
    expect(after.spec?.template).toEqual(before.spec?.template)
    // The partition and the strategy as they were; the StatefulSet still mid-way through its own update.
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    expect(after.spec?.updateStrategy?.rollingUpdate?.partition).toBe(3)
    expect(after.status?.updateRevision).toBe(revisionB)
    expect(after.status?.currentRevision).toBe(revisionA)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
    // Ordinals 0 and 1 were never touched.
    expect(watch.deletions().filter((d) => d.ordinal < 2)).toEqual([])
  }, 300_000)

  it("an abort without rollback leaves the partition where it is (restoring it would update the rest), with a note", async () => {
    const name = "db-held"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: REPLICAS
    })
    const oldRevision = before.status?.updateRevision
    const store = makeMemoryStore()
    const rolloutId = "sts-held"
    const approvals = answerApprovals(store, rolloutId, async () => "ABORT")
    const run = await runRollout({
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ partition: { partitions: [4, 0] } }",
        approval: "[1]",
        rollbackOnAbort: false
      }),
      rolloutId,
      store,
      onEvent: approvals.onEvent
    })
    expect(await approvals.done()).toEqual([])
    expect(run.result.outcome).toBe("aborted")
    expect(run.result.rolledBack).toEqual([])
    expect(run.result.concluded?.notes.join("\n")).toContain(`StatefulSet ${ns()}/${name} left at partition 4`)
    const after = await read(name)
    expect(after.spec?.updateStrategy?.rollingUpdate?.partition).toBe(4)
    expect(after.metadata?.annotations?.[ANNOTATION.held]).toContain("after aborted")
    expect(after.metadata?.annotations?.[ANNOTATION.rollout]).toBe(rolloutId)
    const pods = await ordinalStates(ns(), name)
    expect(roll(pods, oldRevision)).toEqual(["0:old", "1:old", "2:old", "3:old", "4:new"])
  }, 300_000)

  it("refuses a rolling plan in ascending ordinal order before touching anything", async () => {
    const name = "db-order"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: 3
    })
    watch = await watchStatefulSetPods(ns(), name)
    const run = await runRollout({
      // No topology: the rolling waves take the targets in id order, i.e. ordinals 0, 1, 2.
      spec: spec({
        namespace: ns(),
        name,
        image: IMAGE("2.0.0"),
        strategy: "{ rolling: { batchSize: 1 } }",
        topology: false
      }),
      rolloutId: "sts-ascending"
    })
    expect(run.result.outcome).toBe("failed")
    expect(run.result.reason).toContain("from the highest ordinal down")
    expect(run.result.touched).toEqual([])
    const after = await read(name)
    expect(asWritten(after)).toEqual(asWritten(before))
    expect(watch.deletions()).toEqual([])
  }, 120_000)

  it("rolls a StatefulSet on OnDelete by deleting its pods, in any order; OnDelete kept", async () => {
    const name = "db-ondelete"
    const before = await createStatefulSet({
      namespace: ns(),
      name,
      image: IMAGE("1.0.0"),
      pool: nodes().pools[0] ?? "",
      replicas: 3,
      updateStrategy: { type: "OnDelete" }
    })
    const oldRevision = before.status?.updateRevision
    watch = await watchStatefulSetPods(ns(), name)
    const run = await runRollout({
      spec: spec({ namespace: ns(), name, image: IMAGE("2.0.0"), strategy: "{ rolling: { batchSize: 1 } }" }),
      rolloutId: "sts-ondelete"
    })
    expect(run.result.outcome).toBe("completed")
    // Ascending waves are fine here: each ordinal is replaced by its own delete, once.
    const deletions = watch.deletions()
    expect(deletions.map((d) => d.ordinal).sort()).toEqual([0, 1, 2])
    expect(deletions.every((d) => d.revision === oldRevision)).toBe(true)
    const after = await read(name)
    const pods = await ordinalStates(ns(), name)
    expect(pods.map((p) => [p.revision === oldRevision, p.image, p.ready])).toEqual(
      pods.map(() => [false, IMAGE("2.0.0"), true])
    )
    expect(after.spec?.updateStrategy).toEqual(before.spec?.updateStrategy)
    for (const key of Object.values(ANNOTATION)) expect(after.metadata?.annotations?.[key]).toBeUndefined()
  }, 300_000)
})

describe("validateStatefulSetPlan (pure)", () => {
  const target = (ordinal: number, name = "db", updateStrategy = "RollingUpdate"): Target => ({
    id: `ns/statefulset/${name}/${ordinal}`,
    name: `${name}-${ordinal}`,
    labels: {},
    ordinal,
    data: { v: 1, kind: "StatefulSet", namespace: "ns", name, ordinal, updateStrategy }
  })
  const plan = (targets: ReadonlyArray<Target>, waves: ReadonlyArray<ReadonlyArray<string>>): Plan => ({
    strategy: "rolling",
    targets,
    waves: waves.map(
      (ids, index): Wave => ({
        index,
        kind: "batch",
        targets: ids,
        maxUnavailable: 1,
        maxSurge: 0,
        analysis: [],
        approvalBefore: false
      })
    ),
    upToDate: [],
    fingerprint: ""
  })
  const dataOf = (targets: ReadonlyArray<Target>) => new Map(targets.map((t) => [t.id, t.data as TargetData]))
  const check = (targets: ReadonlyArray<Target>, waves: ReadonlyArray<ReadonlyArray<string>>) =>
    validateStatefulSetPlan(plan(targets, waves), dataOf(targets))

  it("accepts waves from the highest ordinal down, in any order within a wave", () => {
    const ts = [0, 1, 2, 3, 4].map((o) => target(o))
    expect(check(ts, [[ts[4]!.id], [ts[2]!.id, ts[3]!.id], [ts[0]!.id, ts[1]!.id]])).toBeUndefined()
  })

  it("refuses a wave that reaches an ordinal at or above an earlier wave's lowest one", () => {
    const ts = [0, 1, 2].map((o) => target(o))
    expect(check(ts, [[ts[0]!.id], [ts[1]!.id], [ts[2]!.id]])).toMatch(/highest ordinal down/)
    expect(check(ts, [[ts[2]!.id, ts[0]!.id], [ts[1]!.id]])).toMatch(/wave 1 updates ordinal 1/)
  })

  it("judges each StatefulSet on its own, and lets OnDelete StatefulSets go in any order", () => {
    const a = [0, 1].map((o) => target(o, "a"))
    const b = [0, 1].map((o) => target(o, "b"))
    expect(
      check(
        [...a, ...b],
        [
          [a[1]!.id, b[1]!.id],
          [a[0]!.id, b[0]!.id]
        ]
      )
    ).toBeUndefined()
    const c = [0, 1].map((o) => target(o, "c", "OnDelete"))
    expect(check(c, [[c[0]!.id], [c[1]!.id]])).toBeUndefined()
  })
})
