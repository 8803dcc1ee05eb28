import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect } from "vitest"
import type { Inventory, InventoryItem, Plan } from "../../src/plan/index.js"
import { isUpToDate, planToJson, planWaves } from "../../src/plan/index.js"
import { decodeRolloutSpec, type RolloutSpec, resolveDown, resolveUp } from "../../src/spec/index.js"
import { arbSequentialSpecDocument, arbSpecDocument, numRuns } from "../spec/arbitraries.js"

const decoded = (doc: unknown): RolloutSpec => {
  const r = decodeRolloutSpec(doc)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}
const arbSpec = arbSpecDocument.map(decoded)

/** A fleet for a spec: unique ids, zones (some unlabelled), mostly unique ordinals, some already updated. */
const arbInventory = (spec: RolloutSpec): fc.Arbitrary<Inventory> => {
  const key = spec.spec.topology?.key ?? "zone"
  return fc
    .uniqueArray(fc.integer({ min: 0, max: 999 }), { maxLength: 60 })
    .chain((nums) =>
      fc.tuple(
        fc.constant(nums),
        fc.array(
          fc.record({
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
            labels: a.zone === undefined ? {} : { [key]: a.zone },
            ...(a.hasOrdinal ? { ordinal: n } : {})
          },
          image: a.updated ? spec.spec.artifact.image.raw : "other.io/agent:0.9",
          ...(a.updated && spec.spec.artifact.config !== undefined ? { configHash: "stale" } : {})
        }
      })
    )
}

const arbCase = arbSpec.chain((spec) =>
  fc.tuple(
    fc.constant(spec),
    arbInventory(spec),
    fc.infiniteStream(fc.nat()).map((s) => s)
  )
)

const eligibleOf = (spec: RolloutSpec, inventory: Inventory) => inventory.filter((i) => !isUpToDate(spec, i))

const zoneOf = (spec: RolloutSpec, inventory: Inventory, id: string): string => {
  const key = spec.spec.topology?.key
  if (key === undefined) return ""
  return inventory.find((i) => i.target.id === id)?.target.labels[key] ?? ""
}

describe("planner properties", () => {
  test.prop([arbCase], { numRuns })(
    "each target is in exactly one wave or up to date; waves are 1+ targets",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const inWaves = plan.waves.flatMap((w) => w.targets)
      expect(new Set(inWaves).size).toBe(inWaves.length)
      expect([...inWaves, ...plan.upToDate].sort()).toEqual(inventory.map((i) => i.target.id).sort())
      expect(plan.upToDate.every((id) => !inWaves.includes(id))).toBe(true)
      expect(plan.upToDate).toEqual(
        inventory
          .filter((i) => isUpToDate(spec, i))
          .map((i) => i.target.id)
          .sort()
      )
      let cumulative = 0
      plan.waves.forEach((w, i) => {
        expect(w.index).toBe(i)
        expect(w.targets.length).toBeGreaterThanOrEqual(1)
        expect(w.maxUnavailable).toBeGreaterThanOrEqual(1)
        expect(w.maxUnavailable).toBeLessThanOrEqual(w.targets.length)
        expect(w.maxSurge).toBeLessThanOrEqual(w.targets.length)
        cumulative += w.targets.length
        expect(w.updatedAfter).toBe(cumulative)
      })
    }
  )

  test.prop([arbCase], { numRuns })(
    "deterministic: same input, same JSON and fingerprint; order of the inventory does not matter",
    ([spec, inventory, seeds]) => {
      const plan = planWaves(spec, inventory)
      const again = planWaves(spec, inventory)
      expect(planToJson(again)).toBe(planToJson(plan))
      expect(again.fingerprint).toBe(plan.fingerprint)
      // Fisher–Yates with the generated seeds.
      const shuffled = [...inventory]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = seeds.next().value % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const fromShuffled = planWaves(spec, shuffled)
      expect(planToJson(fromShuffled)).toBe(planToJson(plan))
      expect(fromShuffled.fingerprint).toBe(plan.fingerprint)
    }
  )

  test.prop([arbCase], { numRuns })(
    "strategy rules: batch sizes, canary weights, preview, recreate, partition ordinals",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const n = eligibleOf(spec, inventory).length
      const strategy = spec.spec.strategy
      const sizes = plan.waves.map((w) => w.targets.length)
      if ("rolling" in strategy) {
        const b = Math.max(1, resolveUp(strategy.rolling.batchSize, n))
        expect(sizes.every((s) => s <= b)).toBe(true)
        for (const w of plan.waves) {
          expect(w.maxUnavailable).toBe(
            Math.min(w.targets.length, Math.max(1, resolveDown(strategy.rolling.maxUnavailable, n)))
          )
          expect(w.maxSurge).toBe(Math.min(w.targets.length, resolveUp(strategy.rolling.maxSurge, n)))
        }
      } else if ("canary" in strategy) {
        // Documented rounding: C_i = min(N, max(ceil(w_i·N/100), C_{i-1} + 1)) for each step with w_i > 0.
        const expected: Array<[number, number]> = []
        let c = 0
        for (const step of strategy.canary.steps) {
          if (!("setWeight" in step) || step.setWeight === 0 || c >= n) continue
          c = Math.min(n, Math.max(Math.ceil((step.setWeight * n) / 100), c + 1))
          expected.push([step.setWeight, c])
        }
        const weighted = plan.waves.filter((w) => w.weight !== undefined).map((w) => [w.weight, w.updatedAfter])
        expect(weighted).toEqual(expected)
        const weights = weighted.map(([w]) => w!)
        expect(weights.every((w, i) => i === 0 || w > weights[i - 1]!)).toBe(true)
        const rolling = strategy.canary.rolling
        if (rolling !== undefined) {
          const b = Math.max(1, resolveUp(rolling.batchSize, n))
          expect(plan.waves.filter((w) => w.kind === "batch").every((w) => w.targets.length <= b)).toBe(true)
        }
        // Canary waves come first, then batches.
        const kinds = plan.waves.map((w) => w.kind)
        expect(kinds.lastIndexOf("canary")).toBeLessThan(
          kinds.indexOf("batch") === -1 ? Infinity : kinds.indexOf("batch")
        )
      } else if ("blueGreen" in strategy) {
        const preview = plan.waves.filter((w) => w.kind === "preview")
        const previewSize = Math.min(n, Math.max(1, resolveUp(strategy.blueGreen.previewSize, n)))
        expect(preview.reduce((s, w) => s + w.targets.length, 0)).toBe(previewSize)
        expect(preview.every((w) => w.mode === "surge" && w.maxSurge === w.targets.length)).toBe(true)
        expect(
          plan.waves.filter((w) => w.kind === "promote").every((w) => w.mode === "replace" && w.maxSurge === 0)
        ).toBe(true)
        if (n > 0 && !strategy.blueGreen.autoPromote)
          expect(preview.at(-1)?.pauseAfter).toEqual({ kind: "untilResumed" })
      } else if ("recreate" in strategy) {
        expect(plan.waves).toHaveLength(n === 0 ? 0 : 1)
        if (n > 0) expect(plan.waves[0]?.maxUnavailable).toBe(n)
      } else {
        const ordinalOf = (id: string) => inventory.find((i) => i.target.id === id)?.target.ordinal
        plan.waves.forEach((w, i) => {
          expect(w.partition).toBeDefined()
          for (const id of w.targets) {
            const ordinal = ordinalOf(id)
            if (ordinal === undefined) expect(i).toBe(plan.waves.length - 1)
            else expect(ordinal).toBeGreaterThanOrEqual(w.partition!)
          }
          if (i > 0) expect(w.partition!).toBeLessThan(plan.waves[i - 1]!.partition!)
          // Highest ordinals first within a wave.
          const ords = w.targets.map(ordinalOf).filter((o) => o !== undefined)
          expect(ords).toEqual([...ords].sort((a, b) => b - a))
        })
      }
    }
  )

  test.prop([arbCase], { numRuns })(
    "topology: no wave takes more than the allowed share of any value",
    ([spec, inventory]) => {
      const plan: Plan = planWaves(spec, inventory)
      const topology = spec.spec.topology
      if (topology === undefined) {
        expect(plan.waves.every((w) => w.topologyCounts === undefined)).toBe(true)
        return
      }
      const eligible = eligibleOf(spec, inventory)
      const n = eligible.length
      const sizeOf = (v: string) => eligible.filter((i) => (i.target.labels[topology.key] ?? "") === v).length
      const strategy = spec.spec.strategy
      for (const w of plan.waves) {
        const counts: Record<string, number> = {}
        for (const id of w.targets) {
          const v = zoneOf(spec, inventory, id)
          counts[v] = (counts[v] ?? 0) + 1
        }
        expect(w.topologyCounts).toEqual(counts)
        if (w.perValueMax === undefined) {
          expect(w.kind === "recreate" || w.kind === "partition").toBe(true)
          continue
        }
        for (const [v, count] of Object.entries(counts)) expect(count).toBeLessThanOrEqual(w.perValueMax[v]!)
        // The cap is the documented one.
        if (topology.maxSharePerWave !== undefined) {
          for (const [v, cap] of Object.entries(w.perValueMax)) {
            expect(cap).toBe(Math.max(1, resolveUp(topology.maxSharePerWave, sizeOf(v))))
          }
        } else if ("rolling" in strategy) {
          const b = Math.max(1, resolveUp(strategy.rolling.batchSize, n))
          for (const [v, cap] of Object.entries(w.perValueMax)) {
            expect(cap).toBe(Math.max(1, Math.ceil((b * sizeOf(v)) / n)))
          }
        }
      }
      // With the default caps, no canary step, preview or promote needs to spill into extra waves.
      if (topology.maxSharePerWave === undefined) {
        if ("canary" in strategy) {
          const canaryWaves = plan.waves.filter((w) => w.kind === "canary")
          expect(canaryWaves.every((w) => w.weight !== undefined)).toBe(true)
          if (strategy.canary.rolling === undefined)
            expect(plan.waves.filter((w) => w.kind === "batch").length).toBeLessThanOrEqual(1)
        }
        if ("blueGreen" in strategy) {
          expect(plan.waves.filter((w) => w.kind === "preview").length).toBeLessThanOrEqual(1)
          expect(plan.waves.filter((w) => w.kind === "promote").length).toBeLessThanOrEqual(1)
        }
      }
    }
  )
})

const arbSequentialCase = arbSequentialSpecDocument
  .map(decoded)
  .chain((spec) => fc.tuple(fc.constant(spec), arbInventory(spec), fc.infiniteStream(fc.nat())))

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

describe("planner properties: topology order sequential", () => {
  test.prop([arbSequentialCase], { numRuns })(
    "every eligible target exactly once; every wave has exactly one topology value, with the right counts",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const inWaves = plan.waves.flatMap((w) => w.targets)
      expect(new Set(inWaves).size).toBe(inWaves.length)
      expect([...inWaves].sort()).toEqual(
        eligibleOf(spec, inventory)
          .map((i) => i.target.id)
          .sort()
      )
      expect([...inWaves, ...plan.upToDate].sort()).toEqual(inventory.map((i) => i.target.id).sort())
      let cumulative = 0
      plan.waves.forEach((w, i) => {
        expect(w.index).toBe(i)
        expect(w.targets.length).toBeGreaterThanOrEqual(1)
        cumulative += w.targets.length
        expect(w.updatedAfter).toBe(cumulative)
        const values = new Set(w.targets.map((id) => zoneOf(spec, inventory, id)))
        expect(values.size).toBe(1)
        const [value] = values
        expect(w.topologyCounts).toEqual(Object.fromEntries([[value!, w.targets.length]]))
        if (w.perValueMax !== undefined) {
          expect(Object.keys(w.perValueMax)).toEqual([value])
          expect(w.targets.length).toBeLessThanOrEqual(w.perValueMax[value!]!)
        }
      })
    }
  )

  test.prop([arbSequentialCase], { numRuns })(
    "values run in the requested order (listed first, then sorted) and never come back once left; missing ones warn",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const topology = spec.spec.topology!
      const runs: Array<string> = []
      for (const w of plan.waves) {
        const v = zoneOf(spec, inventory, w.targets[0]!)
        if (runs[runs.length - 1] !== v) runs.push(v)
      }
      expect(new Set(runs).size).toBe(runs.length)
      const present = new Set(eligibleOf(spec, inventory).map((i) => i.target.labels[topology.key] ?? ""))
      const listed = (topology.values ?? []).filter((v) => present.has(v))
      const rest = [...present].filter((v) => !listed.includes(v)).sort(compare)
      expect(runs).toEqual([...listed, ...rest])
      expect(plan.topologySequence).toEqual(runs)
      expect(plan.topologyValues).toEqual([...present].sort(compare))
      const carried = new Set(inventory.map((i) => i.target.labels[topology.key] ?? ""))
      const missing = (topology.values ?? []).filter((v) => !carried.has(v))
      expect((plan.warnings ?? []).filter((w) => w.startsWith("topology.values:"))).toEqual(
        missing.map((v) => `topology.values: no target has ${topology.key}=${JSON.stringify(v)}`)
      )
    }
  )

  test.prop([arbSequentialCase], { numRuns })(
    "deterministic: same input, same JSON and fingerprint, whatever the inventory's order",
    ([spec, inventory, seeds]) => {
      const plan = planWaves(spec, inventory)
      expect(planToJson(planWaves(spec, inventory))).toBe(planToJson(plan))
      const shuffled = [...inventory]
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = seeds.next().value % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const fromShuffled = planWaves(spec, shuffled)
      expect(planToJson(fromShuffled)).toBe(planToJson(plan))
      expect(fromShuffled.fingerprint).toBe(plan.fingerprint)
    }
  )

  test.prop([arbSequentialCase], { numRuns })(
    "maxUnavailable budget per wave, batch sizes and canary weights as without order",
    ([spec, inventory]) => {
      const plan = planWaves(spec, inventory)
      const n = eligibleOf(spec, inventory).length
      const topology = spec.spec.topology!
      const strategy = spec.spec.strategy
      const budget = (mu: Parameters<typeof resolveDown>[0], size: number) =>
        Math.min(size, Math.max(1, resolveDown(mu, n)))
      const capOf = (w: Plan["waves"][number]) => {
        const v = zoneOf(spec, inventory, w.targets[0]!)
        const size = eligibleOf(spec, inventory).filter((i) => (i.target.labels[topology.key] ?? "") === v).length
        return topology.maxSharePerWave === undefined
          ? Number.POSITIVE_INFINITY
          : Math.max(1, resolveUp(topology.maxSharePerWave, size))
      }
      for (const w of plan.waves) {
        expect(w.maxUnavailable).toBeGreaterThanOrEqual(1)
        expect(w.maxUnavailable).toBeLessThanOrEqual(w.targets.length)
        expect(w.maxSurge).toBeLessThanOrEqual(w.targets.length)
      }
      /** Within one value, every wave but the value's last is full (`full(w)` targets). */
      const fullUntilValueEnds = (
        waves: ReadonlyArray<Plan["waves"][number]>,
        full: (w: Plan["waves"][number]) => number
      ) =>
        waves.forEach((w, i) => {
          expect(w.targets.length).toBeLessThanOrEqual(full(w))
          const next = waves[i + 1]
          if (
            next !== undefined &&
            zoneOf(spec, inventory, next.targets[0]!) === zoneOf(spec, inventory, w.targets[0]!)
          )
            expect(w.targets.length).toBe(full(w))
        })
      if ("rolling" in strategy) {
        const b = Math.max(1, resolveUp(strategy.rolling.batchSize, n))
        for (const w of plan.waves) {
          expect(w.kind).toBe("batch")
          expect(w.maxUnavailable).toBe(budget(strategy.rolling.maxUnavailable, w.targets.length))
          expect(w.maxSurge).toBe(Math.min(w.targets.length, resolveUp(strategy.rolling.maxSurge, n)))
        }
        fullUntilValueEnds(plan.waves, (w) => Math.min(b, capOf(w)))
      } else if ("canary" in strategy) {
        const canary = strategy.canary
        const expected: Array<[number, number]> = []
        let c = 0
        for (const step of canary.steps) {
          if (!("setWeight" in step) || step.setWeight === 0 || c >= n) continue
          c = Math.min(n, Math.max(Math.ceil((step.setWeight * n) / 100), c + 1))
          expected.push([step.setWeight, c])
        }
        expect(plan.waves.filter((w) => w.weight !== undefined).map((w) => [w.weight, w.updatedAfter])).toEqual(
          expected
        )
        const kinds = plan.waves.map((w) => w.kind)
        expect(kinds.lastIndexOf("canary")).toBeLessThan(
          kinds.indexOf("batch") === -1 ? Infinity : kinds.indexOf("batch")
        )
        for (const w of plan.waves) {
          const mu =
            w.kind === "canary" ? canary.maxUnavailable : (canary.rolling?.maxUnavailable ?? canary.maxUnavailable)
          expect(w.maxUnavailable).toBe(budget(mu, w.targets.length))
          expect(w.targets.length).toBeLessThanOrEqual(capOf(w))
        }
        const batches = plan.waves.filter((w) => w.kind === "batch")
        const rolling = canary.rolling
        if (rolling !== undefined) {
          const b = Math.max(1, resolveUp(rolling.batchSize, n))
          fullUntilValueEnds(batches, (w) => Math.min(b, capOf(w)))
        } else if (topology.maxSharePerWave === undefined) {
          // The remainder: one wave per value.
          const values = batches.map((w) => zoneOf(spec, inventory, w.targets[0]!))
          expect(new Set(values).size).toBe(values.length)
        }
      } else {
        // recreate: one wave per value, all of it at once.
        const values = plan.waves.map((w) => zoneOf(spec, inventory, w.targets[0]!))
        expect(new Set(values).size).toBe(values.length)
        expect(plan.waves.every((w) => w.kind === "recreate" && w.maxUnavailable === w.targets.length)).toBe(true)
      }
    }
  )
})
