import { describe, expect, it } from "vitest"
import { artifactConfigHash, isUpToDate, planToJson, planWaves } from "../../src/plan/index.js"
import { DESIRED, fleet, item, specWith, target, threeZones, twoZones } from "./helpers.js"

const ids = (n: number) => Array.from({ length: n }, (_, i) => `t-${String(i).padStart(3, "0")}`)
const shape = (plan: ReturnType<typeof planWaves>) => plan.waves.map((w) => w.targets)

describe("rolling", () => {
  it("25% batches of 10 targets: 3, 3, 3, 1 (rounded up), pause between waves", () => {
    const plan = planWaves(
      specWith({ rolling: { batchSize: "25%", maxUnavailable: "10%", pauseBetweenWaves: "30s" } }),
      fleet(10)
    )
    const t = ids(10)
    expect(shape(plan)).toEqual([t.slice(0, 3), t.slice(3, 6), t.slice(6, 9), t.slice(9)])
    expect(plan.waves.map((w) => w.kind)).toEqual(["batch", "batch", "batch", "batch"])
    expect(plan.waves.map((w) => w.maxUnavailable)).toEqual([1, 1, 1, 1])
    expect(plan.waves.map((w) => w.pauseAfter)).toEqual([
      { kind: "duration", ms: 30_000 },
      { kind: "duration", ms: 30_000 },
      { kind: "duration", ms: 30_000 },
      undefined
    ])
    expect(plan.waves.map((w) => w.updatedAfter)).toEqual([3, 6, 9, 10])
    expect(plan.waves.every((w) => w.mode === "replace" && w.maxSurge === 0 && !w.approvalBefore)).toBe(true)
    expect(plan.strategy).toBe("rolling")
    expect(plan.upToDate).toEqual([])
    expect(plan.fingerprint).toMatch(/^[0-9a-f]{64}$/)
  })

  it("maxUnavailable percent rounds down (min 1), maxSurge percent rounds up, both capped by the wave", () => {
    const plan = planWaves(specWith({ rolling: { batchSize: 8, maxUnavailable: "25%", maxSurge: "15%" } }), fleet(20))
    expect(plan.waves.map((w) => [w.targets.length, w.maxUnavailable, w.maxSurge])).toEqual([
      [8, 5, 3],
      [8, 5, 3],
      [4, 4, 3]
    ])
  })

  it("10 targets in 2 zones, batch 3: each wave spreads over the zones, at most ceil(share × zone) of a zone", () => {
    const plan = planWaves(specWith({ rolling: { batchSize: 3 } }, { topology: "zone" }), twoZones())
    expect(shape(plan)).toEqual([["a-1", "b-1", "a-2"], ["a-3", "b-2", "b-3"], ["a-4", "b-4", "a-5"], ["b-5"]])
    expect(plan.waves.map((w) => w.topologyCounts)).toEqual([
      { "zone-a": 2, "zone-b": 1 },
      { "zone-a": 1, "zone-b": 2 },
      { "zone-a": 2, "zone-b": 1 },
      { "zone-b": 1 }
    ])
    expect(plan.waves[0]?.perValueMax).toEqual({ "zone-a": 2, "zone-b": 2 })
    expect(plan.topologyKey).toBe("zone")
    expect(plan.topologyValues).toEqual(["zone-a", "zone-b"])
  })

  it("maxSharePerWave caps a zone per wave; short waves spill into extra waves", () => {
    const inventory = [
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((i) => item(target(`a-${i}`, { zone: "a" }))),
      item(target("b-1", { zone: "b" })),
      item(target("x-1"))
    ]
    const plan = planWaves(
      specWith({ rolling: { batchSize: 5 } }, { topology: { key: "zone", maxSharePerWave: "25%" } }),
      inventory
    )
    // 25% of zone a (8) = 2, of zone b (1) and of the unlabelled group (1) = 1.
    expect(plan.waves[0]?.perValueMax).toEqual({ "": 1, a: 2, b: 1 })
    expect(shape(plan)).toEqual([
      ["x-1", "a-1", "b-1", "a-2"],
      ["a-3", "a-4"],
      ["a-5", "a-6"],
      ["a-7", "a-8"]
    ])
    expect(plan.waves[0]?.topologyCounts).toEqual({ "": 1, a: 2, b: 1 })
  })
})

describe("canary", () => {
  it("weights are cumulative: 1% → 1, 10% → 2 (at least one more), 50% → 5, then one final wave", () => {
    const plan = planWaves(
      specWith(
        {
          canary: {
            steps: [
              { setWeight: 1 },
              { pause: { duration: "1m" } },
              { setWeight: 10 },
              { pause: {} },
              { analysis: { templates: ["error-rate"] } },
              { setWeight: 50 },
              { pause: { duration: "30s" } },
              { pause: { duration: "30s" } }
            ]
          }
        },
        {
          gates: {
            analysis: [
              {
                name: "error-rate",
                provider: "prometheus",
                address: "http://prom:9090",
                query: "q",
                successCondition: "result < 0.05"
              }
            ]
          }
        }
      ),
      fleet(10)
    )
    const t = ids(10)
    expect(shape(plan)).toEqual([t.slice(0, 1), t.slice(1, 2), t.slice(2, 5), t.slice(5)])
    expect(plan.waves.map((w) => [w.kind, w.weight, w.updatedAfter])).toEqual([
      ["canary", 1, 1],
      ["canary", 10, 2],
      ["canary", 50, 5],
      ["batch", undefined, 10]
    ])
    expect(plan.waves[0]?.pauseAfter).toEqual({ kind: "duration", ms: 60_000 })
    expect(plan.waves[1]?.pauseAfter).toEqual({ kind: "untilResumed" })
    expect(plan.waves[1]?.analysis).toEqual([{ name: "error-rate" }])
    expect(plan.waves[2]?.pauseAfter).toEqual({ kind: "duration", ms: 60_000 })
    expect(plan.waves[3]?.pauseAfter).toBeUndefined()
  })

  it("setWeight 1 on 500 targets is 5 targets", () => {
    const plan = planWaves(specWith({ canary: { steps: [{ setWeight: 1 }, { setWeight: 100 }] } }), fleet(500))
    expect(plan.waves.map((w) => w.targets.length)).toEqual([5, 495])
    expect(plan.waves.map((w) => w.weight)).toEqual([1, 100])
  })

  it("the remainder rolls in batches when canary.rolling is set", () => {
    const plan = planWaves(
      specWith({
        canary: {
          steps: [{ setWeight: 20 }],
          maxUnavailable: 2,
          rolling: { batchSize: "25%", maxUnavailable: 3, pauseBetweenWaves: "10s" }
        }
      }),
      fleet(10)
    )
    expect(plan.waves.map((w) => [w.kind, w.targets.length, w.maxUnavailable, w.pauseAfter?.kind])).toEqual([
      ["canary", 2, 2, undefined],
      ["batch", 3, 3, "duration"],
      ["batch", 3, 3, "duration"],
      ["batch", 2, 2, undefined]
    ])
  })

  it("steps beyond the fleet add no empty waves; their pauses stay on the last wave", () => {
    const plan = planWaves(
      specWith({ canary: { steps: [{ setWeight: 10 }, { setWeight: 20 }, { setWeight: 30 }, { pause: {} }] } }),
      fleet(2)
    )
    expect(plan.waves.map((w) => [w.targets.length, w.weight])).toEqual([
      [1, 10],
      [1, 20]
    ])
    expect(plan.waves[1]?.pauseAfter).toEqual({ kind: "untilResumed" })
  })

  it("with a topology key, 2 zones, 10 targets", () => {
    const plan = planWaves(
      specWith({ canary: { steps: [{ setWeight: 10 }, { setWeight: 40 }] } }, { topology: "zone" }),
      twoZones()
    )
    expect(shape(plan)).toEqual([["a-1"], ["a-2", "b-1", "b-2"], ["a-3", "b-3", "a-4", "b-4", "a-5", "b-5"]])
    expect(plan.waves.map((w) => w.weight)).toEqual([10, 40, undefined])
  })
})

describe("blue-green", () => {
  it("a surge preview held until promoted, then a promote wave with the rest", () => {
    const plan = planWaves(specWith({ blueGreen: { previewSize: "20%" } }), fleet(10))
    const t = ids(10)
    expect(shape(plan)).toEqual([t.slice(0, 2), t.slice(2)])
    expect(plan.waves.map((w) => [w.kind, w.mode, w.maxSurge, w.maxUnavailable, w.pauseAfter])).toEqual([
      ["preview", "surge", 2, 1, { kind: "untilResumed" }],
      ["promote", "replace", 0, 1, undefined]
    ])
  })

  it("autoPromote waits autoPromotionSeconds (or nothing)", () => {
    const timed = planWaves(specWith({ blueGreen: { autoPromote: true, autoPromotionSeconds: 30 } }), fleet(4))
    expect(timed.waves[0]?.pauseAfter).toEqual({ kind: "duration", ms: 30_000 })
    expect(timed.waves[0]?.targets).toHaveLength(1)
    const immediate = planWaves(specWith({ blueGreen: { autoPromote: true } }), fleet(4))
    expect(immediate.waves[0]?.pauseAfter).toBeUndefined()
  })
})

describe("recreate", () => {
  it("one wave with everything, maxUnavailable = all", () => {
    const plan = planWaves(specWith({ recreate: {} }, { topology: "zone" }), twoZones())
    expect(plan.waves).toHaveLength(1)
    expect(plan.waves[0]).toMatchObject({ kind: "recreate", maxUnavailable: 10, maxSurge: 0, mode: "replace" })
    expect([...(plan.waves[0]?.targets ?? [])].sort()).toEqual(twoZones().map((i) => i.target.id))
    expect(plan.waves[0]?.perValueMax).toBeUndefined()
  })
})

describe("partition", () => {
  it("wave i updates ordinals >= partitions[i], highest first", () => {
    const plan = planWaves(specWith({ partition: { partitions: [8, 5, 0], pauseBetweenWaves: "1m" } }), fleet(10))
    const t = ids(10)
    expect(shape(plan)).toEqual([
      [t[9], t[8]],
      [t[7], t[6], t[5]],
      [t[4], t[3], t[2], t[1], t[0]]
    ])
    expect(plan.waves.map((w) => [w.kind, w.partition, w.pauseAfter?.kind])).toEqual([
      ["partition", 8, "duration"],
      ["partition", 5, "duration"],
      ["partition", 0, undefined]
    ])
  })

  it("stopping above 0 holds there (until resumed), then updates the rest", () => {
    const plan = planWaves(specWith({ partition: { steps: ["80%", "50%"] } }), fleet(10))
    expect(plan.waves.map((w) => [w.partition, w.targets.length, w.pauseAfter])).toEqual([
      [8, 2, undefined],
      [5, 3, { kind: "untilResumed" }],
      [0, 5, undefined]
    ])
  })

  it("targets without an ordinal go in the last wave, with a warning", () => {
    const inventory = [...fleet(4), item(target("z-none"))]
    const plan = planWaves(specWith({ partition: { partitions: [2, 0] } }), inventory)
    expect(shape(plan)).toEqual([
      ["t-003", "t-002"],
      ["t-001", "t-000", "z-none"]
    ])
    expect(plan.warnings).toEqual(["partition: 1 target(s) without an ordinal go in the last wave: z-none"])
  })

  it("percent steps with no ordinals at all: everything in one final wave, each target once", () => {
    const inventory = [item(target("x")), item(target("y"))]
    const plan = planWaves(specWith({ partition: { steps: ["94%", "92%"] } }), inventory)
    expect(plan.waves.map((w) => [w.partition, w.targets])).toEqual([[0, ["x", "y"]]])
  })

  it("already-updated high ordinals leave empty partitions out", () => {
    const inventory = fleet(6).map((i) => (i.target.ordinal! >= 3 ? { ...i, image: DESIRED } : i))
    const plan = planWaves(specWith({ partition: { partitions: [4, 2, 0] } }), inventory)
    expect(plan.waves.map((w) => [w.partition, w.targets])).toEqual([
      [2, ["t-002"]],
      [0, ["t-001", "t-000"]]
    ])
    expect(plan.upToDate).toEqual(["t-003", "t-004", "t-005"])
  })
})

describe("inventory handling", () => {
  it("targets already on the image (normalized) are up to date and in no wave", () => {
    const inventory = [
      item(target("t-1"), "r.io/agent:2"),
      item(target("t-2")),
      item(target("t-3"), `r.io/agent:2@sha256:${"0".repeat(64)}`)
    ]
    const plan = planWaves(specWith({ recreate: {} }), inventory)
    expect(plan.upToDate).toEqual(["t-1"])
    expect(plan.waves[0]?.targets).toEqual(["t-2", "t-3"])
    expect(plan.targets.map((t) => t.id)).toEqual(["t-1", "t-2", "t-3"])
  })

  it("with a config change, a target is up to date only with the same config hash", () => {
    const spec = specWith({ recreate: {} })
    const withConfig = {
      ...spec,
      spec: { ...spec.spec, artifact: { ...spec.spec.artifact, config: { signal: "SIGHUP" } } }
    }
    const hash = artifactConfigHash({ signal: "SIGHUP" })
    expect(isUpToDate(withConfig, { target: target("a"), image: DESIRED })).toBe(false)
    expect(isUpToDate(withConfig, { target: target("a"), image: DESIRED, configHash: hash })).toBe(true)
    expect(isUpToDate(spec, { target: target("a"), image: DESIRED, configHash: "other" })).toBe(true)
  })

  it("duplicate ids are planned once, whatever the order", () => {
    const a = item(target("t-1", { zone: "a" }))
    const b = item(target("t-1", { zone: "b" }))
    const p1 = planWaves(specWith({ recreate: {} }), [a, b, item(target("t-2"))])
    const p2 = planWaves(specWith({ recreate: {} }), [item(target("t-2")), b, a])
    expect(planToJson(p1)).toBe(planToJson(p2))
    expect(p1.waves[0]?.targets).toEqual(["t-1", "t-2"])
    expect(p1.warnings).toEqual(['duplicate target id "t-1" in the inventory: planned once'])
  })

  it("odd topology values (like __proto__) are plain keys", () => {
    const inventory = ["__proto__", "constructor", "__proto__", "toString"].map((zone, i) =>
      item(target(`t-${i}`, { zone }))
    )
    const plan = planWaves(specWith({ rolling: { batchSize: 4 } }, { topology: "zone" }), inventory)
    const counts = plan.waves[0]?.topologyCounts ?? {}
    expect(Object.keys(counts).sort()).toEqual(["__proto__", "constructor", "toString"])
    expect(JSON.parse(planToJson(plan)).waves[0].topologyCounts).toEqual(
      JSON.parse('{"__proto__": 2, "constructor": 1, "toString": 1}')
    )
  })

  it("an empty or fully updated fleet has no waves", () => {
    expect(planWaves(specWith({ rolling: { batchSize: 1 } }), []).waves).toEqual([])
    const done = fleet(3).map((i) => ({ ...i, image: DESIRED }))
    const plan = planWaves(specWith({ canary: { steps: [{ setWeight: 50 }] } }), done)
    expect(plan.waves).toEqual([])
    expect(plan.upToDate).toHaveLength(3)
  })
})

describe("manual approval", () => {
  const approvals = (before: unknown) =>
    planWaves(specWith({ rolling: { batchSize: 1 } }, { gates: { manualApproval: { before } } }), fleet(3)).waves.map(
      (w) => w.approvalBefore
    )

  it("none, first, every, or listed wave indexes", () => {
    expect(approvals("none")).toEqual([false, false, false])
    expect(approvals("first")).toEqual([true, false, false])
    expect(approvals("every")).toEqual([true, true, true])
    expect(approvals([0, 2])).toEqual([true, false, true])
  })

  it("warns about indexes beyond the plan", () => {
    const plan = planWaves(
      specWith({ rolling: { batchSize: 1 } }, { gates: { manualApproval: { before: [1, 7] } } }),
      fleet(2)
    )
    expect(plan.warnings).toEqual(["gates.manualApproval.before: wave index(es) 7 out of range (the plan has 2 waves)"])
  })

  it("a partition that holds above 0 with nothing above the hold asks for approval before the rest", () => {
    const plan = planWaves(specWith({ partition: { partitions: [50] } }), fleet(3))
    expect(plan.waves.map((w) => [w.partition, w.approvalBefore])).toEqual([[0, true]])
  })
})

describe("topology order: sequential (zone by zone)", () => {
  const sequential = (extra: Record<string, unknown> = {}) => ({
    topology: { key: "zone", order: "sequential", values: ["zone-c", "zone-a"], ...extra }
  })

  it("rolling: the listed values first, in order, then the rest sorted; a value's last batch is short", () => {
    const plan = planWaves(specWith({ rolling: { batchSize: 2, maxUnavailable: 1 } }, sequential()), threeZones())
    expect(shape(plan)).toEqual([
      ["c-1", "c-2"],
      ["c-3", "c-4"],
      ["c-5"],
      ["a-1", "a-2"],
      ["a-3", "a-4"],
      ["b-1", "b-2"],
      ["b-3"]
    ])
    expect(plan.waves.map((w) => w.topologyCounts)).toEqual([
      { "zone-c": 2 },
      { "zone-c": 2 },
      { "zone-c": 1 },
      { "zone-a": 2 },
      { "zone-a": 2 },
      { "zone-b": 2 },
      { "zone-b": 1 }
    ])
    expect(plan.waves.every((w) => w.kind === "batch" && w.maxUnavailable === 1 && w.perValueMax === undefined)).toBe(
      true
    )
    expect(plan.topologySequence).toEqual(["zone-c", "zone-a", "zone-b"])
    expect(plan.topologyValues).toEqual(["zone-a", "zone-b", "zone-c"])
    expect(plan.warnings).toBeUndefined()
  })

  it("rolling: batchSize and maxUnavailable percentages are of the whole eligible fleet", () => {
    // 25% of 12 = 3 per batch; maxUnavailable 20% of 12 = 2 (rounded down).
    const plan = planWaves(
      specWith({ rolling: { batchSize: "25%", maxUnavailable: "20%", pauseBetweenWaves: "10s" } }, sequential()),
      threeZones()
    )
    expect(plan.waves.map((w) => [w.targets.length, w.maxUnavailable, w.pauseAfter?.kind])).toEqual([
      [3, 2, "duration"],
      [2, 2, "duration"],
      [3, 2, "duration"],
      [1, 1, "duration"],
      [3, 2, undefined]
    ])
  })

  it("maxSharePerWave caps each wave at that share of its own value", () => {
    const plan = planWaves(
      specWith({ rolling: { batchSize: 4 } }, sequential({ maxSharePerWave: "50%" })),
      threeZones()
    )
    // 50% of zone-c (5) = 3, of zone-a (4) = 2, of zone-b (3) = 2.
    expect(shape(plan)).toEqual([
      ["c-1", "c-2", "c-3"],
      ["c-4", "c-5"],
      ["a-1", "a-2"],
      ["a-3", "a-4"],
      ["b-1", "b-2"],
      ["b-3"]
    ])
    expect(plan.waves.map((w) => w.perValueMax)).toEqual([
      { "zone-c": 3 },
      { "zone-c": 3 },
      { "zone-a": 2 },
      { "zone-a": 2 },
      { "zone-b": 2 },
      { "zone-b": 2 }
    ])
  })

  it("canary: weights are of the whole fleet; a step crossing a value's end spills, weight and pause on its last wave", () => {
    const plan = planWaves(
      specWith(
        { canary: { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }, { pause: { duration: "1m" } }] } },
        sequential()
      ),
      threeZones()
    )
    // N = 12: 10% → 2 targets, 50% → 6 targets; the rest: one final wave per value.
    expect(shape(plan)).toEqual([
      ["c-1", "c-2"],
      ["c-3", "c-4", "c-5"],
      ["a-1"],
      ["a-2", "a-3", "a-4"],
      ["b-1", "b-2", "b-3"]
    ])
    expect(plan.waves.map((w) => [w.kind, w.weight, w.updatedAfter, w.pauseAfter])).toEqual([
      ["canary", 10, 2, { kind: "untilResumed" }],
      ["canary", undefined, 5, undefined],
      ["canary", 50, 6, { kind: "duration", ms: 60_000 }],
      ["batch", undefined, 9, undefined],
      ["batch", undefined, 12, undefined]
    ])
  })

  it("canary with rolling: the remainder in batches within each value", () => {
    const plan = planWaves(
      specWith({ canary: { steps: [{ setWeight: 10 }], rolling: { batchSize: 2, maxUnavailable: 1 } } }, sequential()),
      threeZones()
    )
    expect(shape(plan)).toEqual([
      ["c-1", "c-2"],
      ["c-3", "c-4"],
      ["c-5"],
      ["a-1", "a-2"],
      ["a-3", "a-4"],
      ["b-1", "b-2"],
      ["b-3"]
    ])
    expect(plan.waves.map((w) => w.kind)).toEqual(["canary", "batch", "batch", "batch", "batch", "batch", "batch"])
  })

  it("recreate: one wave per value, all of it at once", () => {
    const plan = planWaves(specWith({ recreate: {} }, sequential()), threeZones())
    expect(shape(plan)).toEqual([
      ["c-1", "c-2", "c-3", "c-4", "c-5"],
      ["a-1", "a-2", "a-3", "a-4"],
      ["b-1", "b-2", "b-3"]
    ])
    expect(plan.waves.map((w) => [w.kind, w.maxUnavailable, w.perValueMax])).toEqual([
      ["recreate", 5, undefined],
      ["recreate", 4, undefined],
      ["recreate", 3, undefined]
    ])
  })

  it('without values: sorted order; unlabelled targets are the value "" (first unless listed)', () => {
    const inventory = [...threeZones(), item(target("x-1")), item(target("x-2"))]
    const sorted = planWaves(specWith({ recreate: {} }, { topology: { key: "zone", order: "sequential" } }), inventory)
    expect(sorted.topologySequence).toEqual(["", "zone-a", "zone-b", "zone-c"])
    expect(sorted.waves[0]?.targets).toEqual(["x-1", "x-2"])
    expect(sorted.waves[0]?.topologyCounts).toEqual({ "": 2 })
    const last = planWaves(
      specWith(
        { recreate: {} },
        { topology: { key: "zone", order: "sequential", values: ["zone-b", "zone-a", "zone-c", ""] } }
      ),
      inventory
    )
    expect(last.topologySequence).toEqual(["zone-b", "zone-a", "zone-c", ""])
  })

  it("a listed value no target has is a warning; one whose targets are all up to date is skipped quietly", () => {
    const inventory = threeZones().map((i) => (i.target.labels.zone === "zone-c" ? { ...i, image: DESIRED } : i))
    const plan = planWaves(
      specWith(
        { rolling: { batchSize: 10 } },
        { topology: { key: "zone", order: "sequential", values: ["zone-x", "zone-c", "zone-b"] } }
      ),
      inventory
    )
    expect(shape(plan)).toEqual([
      ["b-1", "b-2", "b-3"],
      ["a-1", "a-2", "a-3", "a-4"]
    ])
    expect(plan.topologySequence).toEqual(["zone-b", "zone-a"])
    expect(plan.warnings).toEqual(['topology.values: no target has zone="zone-x"'])
  })

  it("deterministic, and the sequence is part of the fingerprint", () => {
    const spec = specWith({ rolling: { batchSize: 2 } }, sequential())
    const a = planWaves(spec, threeZones())
    expect(planToJson(planWaves(spec, [...threeZones()].reverse()))).toBe(planToJson(a))
    const other = planWaves(
      specWith({ rolling: { batchSize: 2 } }, { topology: { key: "zone", order: "sequential" } }),
      threeZones()
    )
    expect(other.fingerprint).not.toBe(a.fingerprint)
    expect(planWaves(specWith({ rolling: { batchSize: 2 } }, { topology: "zone" }), threeZones()).fingerprint).not.toBe(
      a.fingerprint
    )
  })

  it("order: spread (explicit) plans exactly as without order; fingerprints are unchanged", () => {
    const implicit = planWaves(specWith({ rolling: { batchSize: 3 } }, { topology: "zone" }), twoZones())
    const explicit = planWaves(
      specWith({ rolling: { batchSize: 3 } }, { topology: { key: "zone", order: "spread" } }),
      twoZones()
    )
    expect(planToJson(explicit)).toBe(planToJson(implicit))
    expect(implicit.topologySequence).toBeUndefined()
    // Fingerprints computed before `order` existed.
    expect(implicit.fingerprint).toBe("ea858d0ea0be5d9283cf3b9cba81f5df48a6b38eb257616cab990fe3d10769c1")
    const canary = planWaves(
      specWith(
        { canary: { steps: [{ setWeight: 10 }, { setWeight: 40 }] } },
        { topology: { key: "zone", maxSharePerWave: "40%" } }
      ),
      twoZones()
    )
    expect(canary.fingerprint).toBe("ba7fee61fb009b202ea224648660906c08f773fdaf802b70b08cdb1f5ca15c5d")
  })

  it("a hand-built spec with sequential on blue-green (the schema rejects it) spreads, with a warning", () => {
    const base = specWith({ blueGreen: { previewSize: 2 } }, { topology: "zone" })
    const spec = { ...base, spec: { ...base.spec, topology: { key: "zone", order: "sequential" as const } } }
    const plan = planWaves(spec, twoZones())
    expect(planToJson({ ...plan, warnings: [] })).toBe(planToJson({ ...planWaves(base, twoZones()), warnings: [] }))
    expect(plan.warnings).toEqual([
      "topology.order: sequential does not apply to the blueGreen strategy: its waves spread instead"
    ])
  })
})
