import { describe, expect, it } from "vitest"
import { formatPlanTable, planToJson, planWaves } from "../../src/plan/index.js"
import { fleet, specWith, twoZones } from "./helpers.js"

describe("plan output", () => {
  it("formatPlanTable: one row per wave with kind, size, weight, per-zone counts, pause and approval", () => {
    const inventory = twoZones()
    const plan = planWaves(
      specWith(
        { canary: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }, { pause: { duration: "90s" } }] } },
        { topology: "zone", gates: { manualApproval: { before: "first" } } }
      ),
      inventory
    )
    const table = formatPlanTable(plan, inventory)
    const lines = table.trimEnd().split("\n")
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

  it("formatPlanTable shows partitions, warnings and an empty plan", () => {
    const plan = planWaves(specWith({ partition: { partitions: [5] } }), fleet(8))
    const table = formatPlanTable(plan, fleet(8))
    expect(table).toContain("partition >=5")
    expect(table).toContain("until resumed")
    const empty = planWaves(specWith({ recreate: {} }), [])
    expect(formatPlanTable(empty, [])).toContain("(nothing to do)")
  })

  it("planToJson is stable: sorted keys, same bytes for the same plan", () => {
    const plan = planWaves(specWith({ rolling: { batchSize: 2 } }, { topology: "zone" }), twoZones())
    const json = planToJson(plan)
    expect(json).toBe(planToJson(planWaves(specWith({ rolling: { batchSize: 2 } }, { topology: "zone" }), twoZones())))
    expect(json.endsWith("\n")).toBe(true)
    const parsed = JSON.parse(json)
    expect(Object.keys(parsed)).toEqual([...Object.keys(parsed)].sort())
    expect(parsed.waves[0]).toEqual({
      analysis: [],
      approvalBefore: false,
      index: 0,
      kind: "batch",
      maxSurge: 0,
      maxUnavailable: 1,
      mode: "replace",
      perValueMax: { "zone-a": 1, "zone-b": 1 },
      targets: ["a-1", "b-1"],
      topologyCounts: { "zone-a": 1, "zone-b": 1 },
      updatedAfter: 2
    })
  })

  it("the fingerprint changes with the desired image and the waves", () => {
    const a = planWaves(specWith({ rolling: { batchSize: 2 } }), fleet(4))
    const b = planWaves(specWith({ rolling: { batchSize: 3 } }), fleet(4))
    expect(a.fingerprint).not.toBe(b.fingerprint)
    const spec = specWith({ rolling: { batchSize: 2 } })
    const other = {
      ...spec,
      spec: { ...spec.spec, artifact: { image: { ...spec.spec.artifact.image, tag: "3", raw: "r.io/agent:3" } } }
    }
    expect(planWaves(other, fleet(4)).fingerprint).not.toBe(a.fingerprint)
  })
})
