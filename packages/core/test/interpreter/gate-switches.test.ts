/**
 * Each engine-decided gate on its own switch (issue 12): the engine tags every violation with its
 * gate, the interpreter applies a violation only when the spec turns its gate on, and it never looks
 * at rule names. One test per combination of switches.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { RolloutConfig } from "../../src/interpreter/RolloutConfig.js"
import { PolicyEngine, type PolicyGate, type PolicyRequest, type Violation } from "../../src/policy/PolicyEngine.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"

const targetsOf = (w: ReturnType<typeof world>) => [...w.fleet.targets.values()].map((t) => t.target)

/**
 * An engine double that reports, for every workload, one deny and one warning per gate. The rule
 * names are chosen to mislead a reader of rule names: the policy violation is called `scan-…`
 * and the scan one `policy-…`; only the gate tag says which is which.
 */
const taggingEngine = (requests: PolicyRequest[]) =>
  Layer.succeed(PolicyEngine, {
    evaluate: (req: PolicyRequest) =>
      Effect.sync(() => {
        requests.push(req)
        const deny: Violation[] = [
          { rule: "scan-looking/root", message: "runs as root", container: "agent", gate: "policy" },
          { rule: "policy-looking/cve", message: "CVE-2026-0001 (CRITICAL)", gate: "scan" }
        ]
        const warn: Violation[] = [
          { rule: "w/policy", message: "a policy warning", gate: "policy" },
          { rule: "w/scan", message: "a scan warning", gate: "scan" }
        ]
        return { allow: false, deny, warn }
      })
  })

const run = async (gates: RolloutConfig["gates"], engine: (requests: PolicyRequest[]) => Layer.Layer<PolicyEngine>) => {
  const w = world({ size: 4, namePrefix: "n" })
  const requests: PolicyRequest[] = []
  const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
  const result = await Effect.runPromise(
    startRollout({ config: configFor({ gates }), spec: {}, plan: () => plan }).pipe(
      Effect.provide(Layer.merge(w.layer, engine(requests)))
    )
  )
  const gateEvents = w.sink.events.flatMap((e) => (e.type === "gateDecided" ? [e] : []))
  const decisions = w.sink.events.flatMap((e) => (e.type === "policyDecision" ? [e.decision] : []))
  const touched = [...w.fleet.targets.values()].filter((t) => t.history.length > 0 || t.image === V2).length
  return { result, gateEvents, decisions, requests, touched }
}

const combinations: ReadonlyArray<{ readonly policy: boolean; readonly scan: boolean }> = [
  { policy: false, scan: false },
  { policy: true, scan: false },
  { policy: false, scan: true },
  { policy: true, scan: true }
]

describe("each gate on its own switch", () => {
  for (const { policy, scan } of combinations) {
    const on: PolicyGate[] = [...(policy ? ["policy" as const] : []), ...(scan ? ["scan" as const] : [])]
    it(`policy ${policy ? "on" : "off"}, scan ${scan ? "on" : "off"}: only the enabled gates decide`, async () => {
      const r = await run({ policy, scan, analysis: [] }, taggingEngine)
      if (on.length === 0) {
        // Nothing to decide: the engine is not even asked, and the rollout completes.
        expect(r.requests).toHaveLength(0)
        expect(r.gateEvents).toHaveLength(0)
        expect(r.result.outcome).toBe("completed")
        expect(r.touched).toBe(4)
        return
      }
      // The engine is told which gates it decides.
      for (const req of r.requests) expect(req.gates).toEqual(on)
      expect(r.result.outcome).toBe("blocked")
      expect(r.touched).toBe(0)
      // One gate event per enabled gate, none for a disabled one; each lists only its own violations.
      expect(new Set(r.gateEvents.map((e) => e.gate))).toEqual(new Set(on))
      for (const e of r.gateEvents) {
        expect(e.allow).toBe(false)
        const expected = e.gate === "policy" ? "scan-looking/root" : "policy-looking/cve"
        expect(new Set(e.violations.map((v) => v.rule))).toEqual(new Set([expected]))
        expect(new Set(e.warnings.map((v) => v.rule))).toEqual(new Set([e.gate === "policy" ? "w/policy" : "w/scan"]))
      }
      // The blocking violations are those of the enabled gates, on every target of the pre-flight.
      const rules = new Set(r.result.violations.map((v) => v.rule))
      expect(rules).toEqual(
        new Set([...(policy ? ["scan-looking/root"] : []), ...(scan ? ["policy-looking/cve"] : [])])
      )
      // The decision log records what gated the rollout: no violation of a disabled gate.
      expect(r.decisions.length).toBeGreaterThan(0)
      for (const d of r.decisions) {
        expect(d.allow).toBe(false)
        for (const v of [...d.deny, ...d.warn]) expect(on).toContain(v.gate)
      }
    })
  }

  it("a disabled gate's violations let the rollout through when the enabled gate has none", async () => {
    // Only scan violations: with the policy gate alone on, the rollout completes and every
    // recorded decision allows (the engine said allow=false because of the scan gate).
    const scanOnly = () =>
      Layer.succeed(PolicyEngine, {
        evaluate: () =>
          Effect.succeed({
            allow: false,
            deny: [{ rule: "non-root", message: "named like a policy rule", gate: "scan" as const }],
            warn: []
          })
      })
    const r = await run({ policy: true, scan: false, analysis: [] }, scanOnly)
    expect(r.result.outcome).toBe("completed")
    expect(r.gateEvents.every((e) => e.gate === "policy" && e.allow)).toBe(true)
    for (const d of r.decisions) expect(d).toEqual({ allow: true, deny: [], warn: [] })
  })

  it("an engine that denies without a violation denies every enabled gate (fail closed)", async () => {
    const mute = () =>
      Layer.succeed(PolicyEngine, { evaluate: () => Effect.succeed({ allow: false, deny: [], warn: [] }) })
    for (const gates of [
      { policy: true, scan: false },
      { policy: false, scan: true },
      { policy: true, scan: true }
    ]) {
      const r = await run({ ...gates, analysis: [] }, mute)
      expect(r.result.outcome).toBe("blocked")
      expect(r.touched).toBe(0)
      expect(r.gateEvents.length).toBe((gates.policy ? 1 : 0) + (gates.scan ? 1 : 0))
      for (const e of r.gateEvents) {
        expect(e.allow).toBe(false)
        expect(e.violations.map((v) => v.rule)).toContain("engine/unexplained-deny")
      }
    }
  })

  it("with the scan gate alone on and no engine configured, the rollout is blocked (fail closed)", async () => {
    const w = world({ size: 2, namePrefix: "n" })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      startRollout({
        config: configFor({ gates: { policy: false, scan: true, analysis: [] } }),
        spec: {},
        plan: () => plan
      }).pipe(Effect.provide(w.layer))
    )
    expect(result.outcome).toBe("blocked")
    expect(result.reason).toMatch(/the scan gate is enabled but no policy engine/)
    for (const t of w.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })
})
