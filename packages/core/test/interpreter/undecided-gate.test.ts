/**
 * A policy engine that could not decide (it stopped a hung evaluation at its time limit) denies,
 * and the gate gives that decision to the workloads it has not evaluated yet: a bundle that hangs on
 * every input costs the gate one time limit, not one per distinct workload.
 */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import { PolicyEngine, type PolicyDecision, type PolicyRequest } from "../../src/policy/PolicyEngine.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"

const engine = (requests: PolicyRequest[], undecided: boolean) =>
  Layer.succeed(PolicyEngine, {
    evaluate: (req: PolicyRequest) =>
      Effect.sync((): PolicyDecision => {
        requests.push(req)
        return {
          allow: false,
          deny: [{ rule: "engine/timeout", message: "did not finish within 5s", gate: "policy" }],
          warn: [],
          ...(undecided ? { undecided: true } : {})
        }
      })
  })

const run = async (undecided: boolean) => {
  const w = world({ size: 6, namePrefix: "n" })
  const requests: PolicyRequest[] = []
  const targets = [...w.fleet.targets.values()].map((t) => t.target)
  const plan = { ...chunkPlan([...w.fleet.targets.keys()], 3), targets }
  const result = await Effect.runPromise(
    startRollout({
      config: configFor({ gates: { policy: true, scan: false, analysis: [] } }),
      spec: {},
      plan: () => plan
    }).pipe(Effect.provide(Layer.merge(w.layer, engine(requests, undecided))))
  )
  const gate = w.sink.events.flatMap((e) => (e.type === "gateDecided" && e.gate === "policy" ? [e] : []))
  const touched = [...w.fleet.targets.values()].filter((t) => t.history.length > 0 || t.image === V2).length
  return { result, requests, gate, touched, size: targets.length }
}

describe("a decision the policy engine could not reach", () => {
  it("is evaluated once and denies every target; a plain denial is evaluated per distinct workload", async () => {
    const plain = await run(false)
    // The fleet's workloads are distinct (else this test would prove nothing).
    expect(new Set(plain.requests.map((r) => JSON.stringify(r.workload))).size).toBeGreaterThan(1)
    const asked = plain.requests.length
    expect(asked).toBeGreaterThan(1)

    const stopped = await run(true)
    expect(stopped.requests).toHaveLength(1)
    expect(stopped.result.outcome).toBe("blocked")
    expect(stopped.touched).toBe(0)
    // Every target of the gate is denied, as with a plain denial.
    const denied = (r: typeof plain) => new Set(r.gate.flatMap((e) => e.violations.map((v) => v.targetId)))
    expect(denied(stopped)).toEqual(denied(plain))
    expect(denied(stopped).size).toBe(stopped.size)
    expect(stopped.gate.every((e) => !e.allow)).toBe(true)
  })
})
