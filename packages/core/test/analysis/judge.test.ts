import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { classifyMetric, type JudgeMetric, judge } from "../../src/analysis/judge/judge.js"
import { mannWhitney } from "../../src/analysis/judge/mannWhitney.js"
import { numRuns } from "../spec/arbitraries.js"

const metric = (name: string, over: Partial<JudgeMetric> = {}): JudgeMetric => ({
  name,
  direction: "either",
  critical: false,
  ...over
})
const strict = { confidence: 0.98, tolerance: 0 }
const sample = fc.array(fc.integer({ min: -500, max: 500 }), { minLength: 1, maxLength: 25 })
const flip = { High: "Low", Low: "High", Pass: "Pass", NoData: "NoData" } as const

describe("canary judge: properties", () => {
  it("swapping canary and baseline flips High and Low (p-value equal, shift negated)", () => {
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        const ab = classifyMetric(metric("m"), a, b, strict)
        const ba = classifyMetric(metric("m"), b, a, strict)
        expect(ba.classification).toBe(flip[ab.classification])
        expect(ba.p).toBeCloseTo(ab.p!, 12)
        expect(ba.estimate).toBe(-ab.estimate! || 0)
      }),
      { numRuns }
    )
  })

  it("shifting both samples by a constant changes neither U, p nor the shift (nor, with tolerance 0, the class)", () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: -10_000, max: 10_000 }), (a, b, c) => {
        const r = mannWhitney(a, b)
        const s = mannWhitney(
          a.map((v) => v + c),
          b.map((v) => v + c)
        )
        expect(s.u).toBe(r.u)
        expect(s.p).toBeCloseTo(r.p, 12)
        expect(s.estimate).toBe(r.estimate)
        expect(
          classifyMetric(
            metric("m"),
            a.map((v) => v + c),
            b.map((v) => v + c),
            strict
          ).classification
        ).toBe(classifyMetric(metric("m"), a, b, strict).classification)
      }),
      { numRuns }
    )
  })

  it("identical samples pass", () => {
    fc.assert(
      fc.property(sample, (a) => {
        const r = classifyMetric(metric("m"), a, [...a].reverse(), { confidence: 0.98, tolerance: 0.25 })
        expect(r.classification).toBe("Pass")
        expect(judge([{ metric: metric("m", { critical: true }), canary: a, baseline: a }]).result).toBe("pass")
      }),
      { numRuns }
    )
  })

  it("a large shift is High or Low by its sign, and fails only in the metric's bad direction", () => {
    const sizes = fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 5, maxLength: 20 })
    fc.assert(
      fc.property(sizes, sizes, fc.boolean(), fc.constantFrom("increase", "decrease", "either"), (a, b, up, dir) => {
        // Baseline around 1000, canary ×3 or ÷3: far beyond a 25% band and any noise in 0..100.
        const baseline = b.map((v) => 1000 + v)
        const canary = a.map((v) => (up ? 3000 + v : 300 + v / 10))
        const r = classifyMetric(metric("m", { direction: dir }), canary, baseline, {
          confidence: 0.98,
          tolerance: 0.25
        })
        expect(r.classification).toBe(up ? "High" : "Low")
        expect(r.failed).toBe(dir === "either" || (up ? dir === "increase" : dir === "decrease"))
      }),
      { numRuns }
    )
  })

  it("an empty side (or only non-finite values) is NoData, and never fails", () => {
    fc.assert(
      fc.property(sample, fc.boolean(), (a, canaryEmpty) => {
        const empty = [Number.NaN, Number.POSITIVE_INFINITY].slice(0, a.length % 3)
        const r = canaryEmpty
          ? classifyMetric(metric("m"), empty, a, strict)
          : classifyMetric(metric("m"), a, empty, strict)
        expect(r.classification).toBe("NoData")
        expect(r.failed).toBe(false)
      }),
      { numRuns }
    )
  })
})

describe("canary judge: scoring", () => {
  const base = Array.from({ length: 12 }, (_, i) => 100 + i)
  const high = base.map((v) => v * 3)
  const opts = { confidence: 0.98, tolerance: 0.25, thresholds: { pass: 95, marginal: 75 } }

  it("weights groups; a failed group lowers the score to marginal or fail", () => {
    const j = judge(
      [
        { metric: metric("cpu", { group: "resources" }), canary: base, baseline: base },
        { metric: metric("mem", { group: "resources" }), canary: base, baseline: base },
        { metric: metric("errors", { group: "errors", direction: "increase" }), canary: high, baseline: base }
      ],
      { ...opts, groupWeights: { resources: 4, errors: 1 } }
    )
    // resources 4 × 1 + errors 1 × 0 over 5 → 80: marginal
    expect(j.score).toBe(80)
    expect(j.result).toBe("marginal")
    expect(j.metrics.map((m) => m.classification)).toEqual(["Pass", "Pass", "High"])
    const equal = judge(
      [
        { metric: metric("cpu", { group: "resources" }), canary: base, baseline: base },
        { metric: metric("errors", { group: "errors" }), canary: high, baseline: base }
      ],
      opts
    )
    expect(equal.score).toBe(50)
    expect(equal.result).toBe("fail")
  })

  it("a critical metric that fails fails the judgement whatever the score", () => {
    const samples = [
      ...Array.from({ length: 30 }, (_, i) => ({ metric: metric(`ok${i}`), canary: base, baseline: base })),
      { metric: metric("restarts", { critical: true, direction: "increase" }), canary: high, baseline: base }
    ]
    const j = judge(samples, opts)
    expect(j.result).toBe("fail")
    expect(j.score).toBe(0)
    expect(j.reason).toContain('critical metric "restarts" High')
  })

  it("a decrease of a metric where only increase is bad passes", () => {
    const j = judge(
      [
        {
          metric: metric("errors", { direction: "increase", critical: true }),
          canary: base.map((v) => v / 3),
          baseline: base
        }
      ],
      opts
    )
    expect(j.metrics[0]!.classification).toBe("Low")
    expect(j.result).toBe("pass")
  })

  it("a significant shift inside the tolerance band passes; outside it does not", () => {
    const canary = base.map((v) => v * 1.2)
    expect(classifyMetric(metric("m"), canary, base, { confidence: 0.98, tolerance: 0.25 }).classification).toBe("Pass")
    expect(classifyMetric(metric("m"), canary, base, { confidence: 0.98, tolerance: 0.1 }).classification).toBe("High")
  })

  it("a shift beyond the band that is not significant passes", () => {
    // Hodges–Lehmann shift 10 (band ±2.5), but U = 6 of 9: p far above 0.02.
    const r = classifyMetric(metric("m"), [5, 20, 200], [4, 10, 100], { confidence: 0.98, tolerance: 0.25 })
    expect(r.estimate).toBe(10)
    expect(r.p).toBeGreaterThan(0.5)
    expect(r.classification).toBe("Pass")
  })

  it("no data on every metric is nodata", () => {
    const j = judge([{ metric: metric("m"), canary: [], baseline: base }], opts)
    expect(j.result).toBe("nodata")
  })
})
