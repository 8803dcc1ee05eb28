import * as fs from "node:fs"
import * as path from "node:path"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { planWaves } from "../../src/plan/planWaves.js"
import { configFromSpec } from "../../src/run/fromSpec.js"
import { parseRolloutSpec } from "../../src/spec/parse.js"
import { makeSimulatedFleet } from "../../src/testing/SimulatedFleet.js"
import { canaryAndBaseline } from "../../src/interpreter/analysis.js"

const root = path.resolve(import.meta.dirname, "../../../..")

const problemsOf = (text: string) => {
  const r = parseRolloutSpec(text)
  return Result.isFailure(r) ? r.failure.problems.map((p) => `${p.path}: ${p.message}`) : []
}

const withAnalysis = (analysis: string) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: x }
spec:
  target: { adapter: simulated }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { canary: { steps: [{ setWeight: 25 }, { analysis: { templates: [a] } }], rolling: { batchSize: 50% } } }
  gates:
    analysis:
      - name: a
        provider: prometheus
        address: http://prometheus:9090
${analysis
  .trim()
  .split("\n")
  .map((l) => `        ${l}`)
  .join("\n")}
`

describe("analysis templates in the spec", () => {
  it("the docs' minimal judge spec decodes, carries Argo's defaults into the run config, and plans", () => {
    const doc = fs.readFileSync(path.join(root, "docs", "analysis.md"), "utf8")
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!
    const parsed = parseRolloutSpec(yaml)
    if (Result.isFailure(parsed)) throw new Error(parsed.failure.problems.map((p) => p.message).join("; "))
    const config = configFromSpec(parsed.success, "r")
    const a = config.gates.analysis[0]!
    expect(a).toMatchObject({
      name: "agent-health",
      count: 3,
      intervalMs: 60_000,
      initialDelayMs: 60_000,
      failureLimit: 0,
      inconclusiveLimit: 0,
      consecutiveErrorLimit: 4,
      args: [{ name: "zone", fromLabel: "zone" }]
    })
    expect(a.judge).toMatchObject({ kind: "canary", confidence: 0.98, tolerance: 0.25 })
    expect(a.judge!.metrics.map((m) => [m.name, m.direction, m.critical, m.group])).toEqual([
      ["errors", "increase", true, undefined],
      ["dropped", "increase", false, "delivery"],
      ["memory", "either", false, "resources"]
    ])
    const fleet = makeSimulatedFleet({ size: 12, image: "registry.sluice.dev/agents/node-agent:1.0.0" })
    const plan = planWaves(
      parsed.success,
      [...fleet.targets.values()].map((t) => ({ target: t.target, image: t.image }))
    )
    expect(plan.waves[0]!.analysis.map((x) => x.name)).toEqual(["agent-health"])
    // The judge's canary and baseline for that wave: same zones, not yet updated.
    const { canary, baseline } = canaryAndBaseline(plan, 0)
    expect(canary).toHaveLength(3)
    expect(baseline).toHaveLength(9)
    expect(baseline.some((id) => canary.includes(id))).toBe(false)
    // Same zones only, and each side thinned evenly (deterministically) past the cap.
    const zoneOf = (id: string) => fleet.targets.get(id)!.target.labels.zone
    expect(new Set(baseline.map(zoneOf))).toEqual(new Set(canary.map(zoneOf)))
    const thin = canaryAndBaseline(plan, 0, 4)
    expect(thin.canary).toEqual(canary)
    expect(thin.baseline).toHaveLength(4)
    expect(thin.baseline.every((id) => baseline.includes(id))).toBe(true)
    expect(canaryAndBaseline(plan, 0, 4)).toEqual(thin)
  })

  it("the baseline keeps to the canary's topology values", () => {
    const fleet = makeSimulatedFleet({
      size: 12,
      zones: ["zone-a", "zone-b", "zone-c"],
      image: "registry.sluice.dev/agents/node-agent:1.0.0"
    })
    const parsed = parseRolloutSpec(
      withAnalysis("judge: { kind: canary, metrics: [{ name: m, query: up }] }").replace(
        "strategy:",
        "topology: { key: zone, order: sequential }\n  strategy:"
      )
    )
    if (Result.isFailure(parsed)) throw new Error(parsed.failure.problems.map((p) => p.message).join("; "))
    const plan = planWaves(
      parsed.success,
      [...fleet.targets.values()].map((t) => ({ target: t.target, image: t.image }))
    )
    // Zone by zone: the first wave is in zone-a alone, so is its baseline (not zone-b's or zone-c's).
    const { canary, baseline } = canaryAndBaseline(plan, 0)
    const zoneOf = (id: string) => fleet.targets.get(id)!.target.labels.zone
    expect(new Set(canary.map(zoneOf))).toEqual(new Set(["zone-a"]))
    expect(baseline.length).toBeGreaterThan(0)
    expect(new Set(baseline.map(zoneOf))).toEqual(new Set(["zone-a"]))
  })

  it("an existing threshold template still decodes as before (examples/specs/analysis.yaml)", () => {
    const text = fs.readFileSync(path.join(root, "examples", "specs", "analysis.yaml"), "utf8")
    const parsed = parseRolloutSpec(text)
    expect(Result.isSuccess(parsed)).toBe(true)
    if (Result.isSuccess(parsed)) {
      const a = configFromSpec(parsed.success, "r").gates.analysis[0]!
      expect(a).toMatchObject({ query: expect.stringContaining("error_rate"), count: 3, consecutiveErrorLimit: 4 })
      expect(a.judge).toBeUndefined()
    }
  })

  it("names the field of each mistake", () => {
    expect(problemsOf(withAnalysis("interval: 1s"))).toEqual([
      "spec.gates.analysis[0].query: an analysis needs a query and a successCondition, or a judge",
      "spec.gates.analysis[0].successCondition: an analysis needs a query and a successCondition, or a judge"
    ])
    expect(
      problemsOf(
        withAnalysis(`
query: up
successCondition: result > 0
judge: { kind: canary, metrics: [{ name: m, query: up }] }`)
      )
    ).toEqual([
      "spec.gates.analysis[0].query: a judge analysis has its queries in judge.metrics, not here",
      "spec.gates.analysis[0].successCondition: a judge analysis decides by its judge, not by a successCondition"
    ])
    expect(
      problemsOf(withAnalysis(`judge: { kind: canary, metrics: [{ name: m, query: 'up{node="{{args.node}}"}' }] }`))
    ).toEqual(["spec.gates.analysis[0].judge: {{args.node}} names no argument in args"])
    const bad = problemsOf(
      withAnalysis(`
args: [{ name: node, value: a, fromLabel: b }]
judge:
  kind: canary
  metrics: [{ name: m, query: up, direction: up }, { name: m, query: up }]
  confidence: 1.5
  thresholds: { pass: 50, marginal: 80 }`)
    )
    expect(bad.join("\n")).toContain("spec.gates.analysis[0].args[0]: expected exactly one argument source")
    expect(bad.join("\n")).toContain("spec.gates.analysis[0].judge.metrics[0].direction")
    expect(bad.join("\n")).toContain("spec.gates.analysis[0].judge.confidence")
    // Checks across fields run once every field decoded (as for every struct of the spec).
    expect(
      problemsOf(withAnalysis("judge: { kind: canary, metrics: [{ name: m, query: up }, { name: m, query: up }] }"))
    ).toEqual(['spec.gates.analysis[0].judge.metrics[1].name: duplicate metric name "m"'])
    expect(
      problemsOf(
        withAnalysis(
          "judge: { kind: canary, metrics: [{ name: m, query: up }], thresholds: { pass: 50, marginal: 80 } }"
        )
      )
    ).toEqual(["spec.gates.analysis[0].judge.thresholds.marginal: marginal (80) must not be above pass (50)"])
    expect(problemsOf(withAnalysis("judge: { kind: canary, metrics: [{ name: m, query: up, weight: 2 }] }"))).toEqual([
      expect.stringMatching(/^spec\.gates\.analysis\[0\]\.judge\.metrics\[0\]\.weight: /)
    ])
  })
})
