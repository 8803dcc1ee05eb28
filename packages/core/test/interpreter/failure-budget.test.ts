/**
 * The failure budget (`topology.maxFailuresPerGroup`, issue 10): a target that fails within its
 * group's budget is rolled back on its own and the rollout goes on; the next failure past the
 * budget fails the rollout and rolls back every group. Virtual time.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { Plan } from "../../src/plan/Plan.js"
import { makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet } from "../../src/testing/SimulatedFleet.js"
import { chunkPlan, configFor, recordingSink, V1, V2 } from "../support/harness.js"
import { runVirtualPromise } from "../support/virtualTime.js"

/** 12 targets in zones a, b, c (4 each), grouped by zone, 2 waves of 6, one at a time. */
const run = async (failing: ReadonlyArray<string>, perGroup: number) => {
  const fleet = makeSimulatedFleet({
    size: 12,
    image: V1,
    namePrefix: "t",
    zones: ["a", "b", "c"],
    seed: 5,
    faults: { permanentApplyFailures: [...failing] }
  })
  const ids = [...fleet.targets.keys()]
  const plan: Plan = {
    ...chunkPlan(ids, 6, { maxUnavailable: 1 }),
    targets: [...fleet.targets.values()].map((t) => t.target),
    groupKey: "zone",
    maxFailuresPerGroup: perGroup
  }
  const sink = recordingSink()
  const result = await runVirtualPromise(
    startRollout({ config: configFor(), spec: {}, plan: () => plan }).pipe(
      Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeMemoryStore()), sink.layer))
    )
  )
  const zoneOf = (id: string) => fleet.targets.get(id)!.target.labels.zone!
  return { result, fleet, zoneOf, ids, events: sink.events }
}

describe("failure budget per group", () => {
  it("one failure in a group with a budget of 1: that target is rolled back alone, the rest completes", async () => {
    const probe = await run([], 1)
    const victim = probe.ids[3]!
    const { result, fleet } = await run([victim], 1)
    expect(result.outcome).toBe("completed")
    expect(result.failedWithinBudget).toEqual([victim])
    expect(result.updated).toHaveLength(11)
    expect(fleet.targets.get(victim)!.image).toBe(V1)
    for (const [id, t] of fleet.targets) if (id !== victim) expect(t.image, id).toBe(V2)
  })

  it("one failure in each of two groups fits each group's budget of 1", async () => {
    const probe = await run([], 1)
    const first = probe.ids[0]!
    const other = probe.ids.find((id) => probe.zoneOf(id) !== probe.zoneOf(first))!
    const { result } = await run([first, other], 1)
    expect(result.outcome).toBe("completed")
    expect([...(result.failedWithinBudget ?? [])].sort()).toEqual([first, other].sort())
  })

  it("a second failure in the same group is past its budget: everything is rolled back, in every group", async () => {
    const probe = await run([], 1)
    const first = probe.ids[0]!
    const sameGroup = probe.ids.filter((id) => id !== first && probe.zoneOf(id) === probe.zoneOf(first))
    const { result, fleet } = await run([first, sameGroup[0]!], 1)
    expect(result.outcome).toBe("rolledBack")
    for (const [id, t] of fleet.targets) expect(t.image, id).toBe(V1)
  })

  it("without a budget the first failure rolls everything back (the default)", async () => {
    const probe = await run([], 0)
    const { result, fleet } = await run([probe.ids[3]!], 0)
    expect(result.outcome).toBe("rolledBack")
    for (const [id, t] of fleet.targets) expect(t.image, id).toBe(V1)
  })
})
