import { decodeRolloutSpec, type InventoryItem, planWaves, type RolloutSpec } from "@sluice/core"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { formatPlanTable } from "../src/render/planTable.js"

const spec = (strategy: unknown, extra: Record<string, unknown> = {}): RolloutSpec => {
  const r = decodeRolloutSpec({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "agent" },
    spec: { target: { adapter: "simulated" }, artifact: { image: "r.io/agent:2" }, strategy, ...extra }
  })
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}
const item = (id: string, labels: Record<string, string> = {}, ordinal?: number): InventoryItem => ({
  target: { id, name: id, labels, ...(ordinal === undefined ? {} : { ordinal }) },
  image: "r.io/agent:1"
})
const fleet = (n: number) => Array.from({ length: n }, (_, i) => item(`t-${String(i).padStart(3, "0")}`, {}, i))
const zones = (counts: Record<string, number>) =>
  Object.entries(counts).flatMap(([zone, n]) =>
    Array.from({ length: n }, (_, i) => item(`${zone.slice(-1)}-${i + 1}`, { zone }))
  )

describe("sluice plan table", () => {
  it("one row per wave with kind, size, weight, per-zone counts, pause and approval", () => {
    const inventory = zones({ "zone-a": 5, "zone-b": 5 })
    const plan = planWaves(
      spec(
        { canary: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }, { pause: { duration: "90s" } }] } },
        { topology: "zone", gates: { manualApproval: { before: "first" } } }
      ),
      inventory
    )
    const lines = formatPlanTable(plan, inventory).trimEnd().split("\n")
    expect(lines[0]).toBe("strategy canary: 10 target(s) to update in 3 wave(s), 0 already up to date (r.io/agent:2)")
    expect(lines[1]).toBe("currently running: r.io/agent:1 ×10")
    expect(lines[2]).toBe("topology zone: zone-a, zone-b")
    expect(lines[3]).toBe(`fingerprint ${plan.fingerprint}`)
    expect(lines.slice(5)).toEqual([
      "WAVE  KIND    SIZE  DONE   WEIGHT  PER ZONE           MAX UNAVAIL  SURGE  PAUSE AFTER    ANALYSIS  APPROVAL",
      "0     canary  1     1/10   10%     zone-a=1           1            -      until resumed  -         required",
      "1     canary  3     4/10   40%     zone-a=1 zone-b=2  1            -      1m30s          -         -",
      "2     batch   6     10/10  -       zone-a=3 zone-b=3  1            -      -              -         -"
    ])
  })

  it("shows the group sets (clusters) and which one each wave belongs to", () => {
    const inventory = ["west", "east"].flatMap((cluster) =>
      ["zone-a", "zone-b"].map((zone) => item(`${cluster}/${zone}`, { zone, "sluice.dev/cluster": cluster }))
    )
    const plan = planWaves(
      spec(
        { rolling: { batchSize: 1 } },
        { topology: { key: "zone", order: "sequential", groupBy: "sluice.dev/cluster" } }
      ),
      inventory
    )
    const lines = formatPlanTable(plan, inventory).trimEnd().split("\n")
    expect(lines[2]).toBe("topology zone (sequential): zone-a → zone-b → zone-a → zone-b")
    expect(lines[3]).toBe("groups sluice.dev/cluster: east → west")
    expect(lines.slice(6).map((l) => l.split(/\s+/).slice(0, 2).join(" "))).toEqual([
      "WAVE SLUICE.DEV/CLUSTER",
      "0 east",
      "1 east",
      "2 west",
      "3 west"
    ])
  })

  it("shows partitions, warnings and an empty plan", () => {
    const table = formatPlanTable(planWaves(spec({ partition: { partitions: [5] } }), fleet(8)), fleet(8))
    expect(table).toContain("partition >=5")
    expect(table).toContain("until resumed")
    expect(formatPlanTable(planWaves(spec({ recreate: {} }), []), [])).toContain("(nothing to do)")
  })

  it("shows a sequential topology order", () => {
    const inventory = zones({ "zone-a": 4, "zone-b": 3, "zone-c": 5 })
    const plan = planWaves(
      spec({ recreate: {} }, { topology: { key: "zone", order: "sequential", values: ["zone-c", "zone-a"] } }),
      inventory
    )
    const lines = formatPlanTable(plan, inventory).split("\n")
    expect(lines[2]).toBe("topology zone (sequential): zone-c → zone-a → zone-b")
    expect(lines.slice(6, 9).map((l) => l.split(/\s{2,}/)[5])).toEqual(["zone-c=5", "zone-a=4", "zone-b=3"])
  })
})
