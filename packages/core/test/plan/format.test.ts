import { describe, expect, it } from "vitest"
import { planToJson, planWaves } from "../../src/plan/index.js"
import { fleet, specWith, twoZones } from "./helpers.js"

describe("plan output", () => {
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
