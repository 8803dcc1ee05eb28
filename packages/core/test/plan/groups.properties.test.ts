/**
 * Planner properties for `topology.groupBy` (a level above the topology key: the Kubernetes
 * adapter's clusters): groups are visited in order, `groupsAtOnce` at a time, no wave spans two
 * sets of groups, and inside a set the plan is exactly the plan of a fleet made of that set alone
 * (so every rule the other properties prove, zone order included, holds inside each cluster).
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect } from "vitest"
import type { Inventory, InventoryItem, Plan } from "../../src/plan/index.js"
import { isUpToDate, planToJson, planWaves } from "../../src/plan/index.js"
import { decodeRolloutSpec, type RolloutSpec } from "../../src/spec/index.js"
import { arbSequentialSpecDocument, arbSpecDocument, numRuns } from "../spec/arbitraries.js"

const GROUP = "sluice.dev/cluster"

const decoded = (doc: unknown): RolloutSpec => {
  const r = decodeRolloutSpec(doc)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

type Doc = typeof arbSpecDocument extends fc.Arbitrary<infer D> ? D : never

/** Adds `groupBy` (and maybe `groupsAtOnce`) to a document's topology (`zone` when it has none). */
const withGroups = (doc: Doc, groupsAtOnce: number | undefined): unknown => {
  const t = (doc.spec as { topology?: unknown }).topology
  const base = t === undefined ? { key: "zone" } : typeof t === "string" ? { key: t } : (t as object)
  return {
    ...doc,
    spec: {
      ...doc.spec,
      topology: { ...base, groupBy: GROUP, ...(groupsAtOnce === undefined ? {} : { groupsAtOnce }) }
    }
  }
}

const arbGroupsAtOnce = fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined })

/** A fleet spread over up to four clusters (some targets unlabelled), zones inside, some already updated. */
const arbInventory = (spec: RolloutSpec): fc.Arbitrary<Inventory> => {
  const key = spec.spec.topology?.key ?? "zone"
  return fc
    .uniqueArray(fc.integer({ min: 0, max: 999 }), { maxLength: 60 })
    .chain((nums) =>
      fc.tuple(
        fc.constant(nums),
        fc.array(
          fc.record({
            cluster: fc.constantFrom("c-east", "c-west", "c-north", "a-lab", undefined),
            zone: fc.constantFrom("eu-1a", "eu-1b", "eu-1c", "us-2a", undefined),
            hasOrdinal: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.95),
            updated: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x < 0.2)
          }),
          { minLength: nums.length, maxLength: nums.length }
        )
      )
    )
    .map(([nums, attrs]) =>
      nums.map((n, i): InventoryItem => {
        const a = attrs[i]!
        return {
          target: {
            id: `node-${n}`,
            name: `node-${n}`,
            labels: {
              ...(a.zone === undefined ? {} : { [key]: a.zone }),
              ...(a.cluster === undefined ? {} : { [GROUP]: a.cluster })
            },
            ...(a.hasOrdinal ? { ordinal: n } : {})
          },
          image: a.updated ? spec.spec.artifact.image.raw : "other.io/agent:0.9",
          ...(a.updated && spec.spec.artifact.config !== undefined ? { configHash: "stale" } : {})
        }
      })
    )
}

const caseOf = (docs: fc.Arbitrary<Doc>) =>
  fc
    .tuple(docs, arbGroupsAtOnce)
    .map(([doc, k]) => decoded(withGroups(doc, k)))
    .chain((spec) => fc.tuple(fc.constant(spec), arbInventory(spec), fc.infiniteStream(fc.nat())))

const arbCase = caseOf(arbSpecDocument)
const arbSequentialCase = caseOf(arbSequentialSpecDocument as fc.Arbitrary<Doc>)

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const groupOf = (inventory: Inventory, id: string) =>
  inventory.find((i) => i.target.id === id)?.target.labels[GROUP] ?? ""
const eligibleOf = (spec: RolloutSpec, inventory: Inventory) => inventory.filter((i) => !isUpToDate(spec, i))

/** The spec without `groupBy`/`groupsAtOnce`: what each set of groups is planned with. */
const ungrouped = (spec: RolloutSpec): RolloutSpec => {
  const { groupBy: _g, groupsAtOnce: _k, ...topology } = spec.spec.topology!
  return { ...spec, spec: { ...spec.spec, topology } }
}

/** What a wave does, without its index, approval (indexes are the whole plan's) and cumulative count. */
const shape = (w: Plan["waves"][number]) => {
  const { index: _i, approvalBefore: _a, updatedAfter: _u, groupSet: _s, ...rest } = w
  return rest
}

describe("planner properties: topology.groupBy (clusters above zones)", () => {
  test.prop([arbCase], { numRuns })(
    "every eligible target exactly once; groups in sorted order, groupsAtOnce per set; no wave spans two sets",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const k = spec.spec.topology?.groupsAtOnce ?? 1
      const inWaves = plan.waves.flatMap((w) => w.targets)
      expect(new Set(inWaves).size).toBe(inWaves.length)
      expect([...inWaves, ...plan.upToDate].sort()).toEqual(inventory.map((i) => i.target.id).sort())
      const groups = [...new Set(eligibleOf(spec, inventory).map((i) => i.target.labels[GROUP] ?? ""))].sort(compare)
      const expectedSets: Array<Array<string>> = []
      for (let i = 0; i < groups.length; i += k) expectedSets.push(groups.slice(i, i + k))
      expect(plan.groupKey).toBe(GROUP)
      expect(plan.groupSets).toEqual(expectedSets)
      let previous = 0
      let cumulative = 0
      for (const w of plan.waves) {
        expect(w.targets.length).toBeGreaterThanOrEqual(1)
        cumulative += w.targets.length
        expect(w.updatedAfter).toBe(cumulative)
        const set = w.groupSet!
        // Sets run in order and never come back.
        expect(set).toBeGreaterThanOrEqual(previous)
        previous = set
        const waveGroups = new Set(w.targets.map((id) => groupOf(inventory, id)))
        expect(waveGroups.size).toBeLessThanOrEqual(k)
        for (const g of waveGroups) expect(plan.groupSets![set]).toContain(g)
      }
      // Every set has at least one wave.
      expect(new Set(plan.waves.map((w) => w.groupSet))).toEqual(new Set(expectedSets.map((_, i) => i)))
    }
  )

  test.prop([arbCase], { numRuns })(
    "inside a set, the waves are the plan of a fleet made of that set's targets alone",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const plain = ungrouped(spec)
      plan.groupSets!.forEach((set, i) => {
        const members = new Set(set)
        const alone = planWaves(
          plain,
          inventory.filter((item) => members.has(item.target.labels[GROUP] ?? ""))
        )
        expect(plan.waves.filter((w) => w.groupSet === i).map(shape)).toEqual(alone.waves.map(shape))
      })
    }
  )

  test.prop([arbCase], { numRuns })("deterministic, whatever the inventory's order", ([spec, inventory, seeds]) => {
    const plan = planWaves(spec, inventory)
    const shuffled = [...inventory]
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = seeds.next().value % (i + 1)
      ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
    }
    const again = planWaves(spec, shuffled)
    expect(planToJson(again)).toBe(planToJson(plan))
    expect(again.fingerprint).toBe(plan.fingerprint)
    // The level changes the fingerprint whenever it changes the plan's grouping.
    if (plan.groupSets!.length > 1) expect(planWaves(ungrouped(spec), inventory).fingerprint).not.toBe(plan.fingerprint)
  })

  test.prop([arbSequentialCase], { numRuns })(
    "order: sequential: cluster by cluster, and zone by zone inside each (listed zones first, then sorted)",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const topology = spec.spec.topology!
      const zoneOf = (id: string) => inventory.find((i) => i.target.id === id)?.target.labels[topology.key] ?? ""
      const sequence: Array<string> = []
      plan.groupSets!.forEach((set, s) => {
        const waves = plan.waves.filter((w) => w.groupSet === s)
        const runs: Array<string> = []
        for (const w of waves) {
          // One zone per wave (and so, with one group per set, one cluster and one zone per wave).
          expect(new Set(w.targets.map(zoneOf)).size).toBe(1)
          const z = zoneOf(w.targets[0]!)
          if (runs.at(-1) !== z) runs.push(z)
        }
        expect(new Set(runs).size).toBe(runs.length)
        const members = new Set(set)
        const present = new Set(
          eligibleOf(spec, inventory)
            .filter((i) => members.has(i.target.labels[GROUP] ?? ""))
            .map((i) => i.target.labels[topology.key] ?? "")
        )
        const listed = (topology.values ?? []).filter((v) => present.has(v))
        expect(runs).toEqual([...listed, ...[...present].filter((v) => !listed.includes(v)).sort(compare)])
        sequence.push(...runs)
      })
      expect(plan.topologySequence).toEqual(sequence)
    }
  )
})

describe("topology.groupBy: examples and decoding", () => {
  const doc = (topology: unknown, strategy: unknown = { rolling: { batchSize: 1 } }) => ({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "agent" },
    spec: {
      target: { adapter: "simulated", selector: {} },
      artifact: { image: "registry.sluice.dev/agent:2" },
      strategy,
      topology
    }
  })
  const item = (cluster: string, zone: string, i: number): InventoryItem => ({
    target: { id: `${cluster}/${zone}/n${i}`, name: `n${i}`, labels: { [GROUP]: cluster, zone } },
    image: "registry.sluice.dev/agent:1"
  })
  const fleet = ["c2", "c1"].flatMap((c) => ["z-b", "z-a"].flatMap((z) => [item(c, z, 0), item(c, z, 1)]))

  test("two clusters of two zones, one cluster at a time, zone by zone: c1 z-a, c1 z-b, c2 z-a, c2 z-b", () => {
    const plan = planWaves(decoded(doc({ key: "zone", order: "sequential", groupBy: GROUP })), fleet)
    expect(plan.groupSets).toEqual([["c1"], ["c2"]])
    expect(plan.waves.map((w) => w.targets.join(" "))).toEqual([
      "c1/z-a/n0",
      "c1/z-a/n1",
      "c1/z-b/n0",
      "c1/z-b/n1",
      "c2/z-a/n0",
      "c2/z-a/n1",
      "c2/z-b/n0",
      "c2/z-b/n1"
    ])
    expect(plan.waves.map((w) => w.groupSet)).toEqual([0, 0, 0, 0, 1, 1, 1, 1])
    expect(plan.topologySequence).toEqual(["z-a", "z-b", "z-a", "z-b"])
  })

  test("groupsAtOnce: 2 takes both clusters in one set, a batch of 50% spread over them", () => {
    const plan = planWaves(
      decoded(doc({ key: "zone", groupBy: GROUP, groupsAtOnce: 2 }, { rolling: { batchSize: "50%" } })),
      fleet
    )
    expect(plan.groupSets).toEqual([["c1", "c2"]])
    expect(plan.waves.map((w) => w.targets.length)).toEqual([4, 4])
  })

  test("strict decoding: groupsAtOnce needs groupBy, groupBy is another label than key, typos are located", () => {
    const problems = (topology: unknown) => {
      const r = decodeRolloutSpec(doc(topology))
      return Result.isFailure(r) ? r.failure.message : "decoded"
    }
    expect(problems({ key: "zone", groupsAtOnce: 2 })).toContain(
      "spec.topology.groupsAtOnce: groupsAtOnce is only allowed with groupBy"
    )
    expect(problems({ key: "zone", groupBy: "zone" })).toContain(
      "spec.topology.groupBy: groupBy must be another label than key (a level above it)"
    )
    expect(problems({ key: "zone", groupBy: GROUP, groupsAtOnce: 0 })).toContain("spec.topology.groupsAtOnce")
    expect(problems({ key: "zone", groupby: GROUP })).toMatch(/spec\.topology\.groupby.*groupBy/)
  })
})
