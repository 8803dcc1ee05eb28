import { assert, describe, expect, it } from "@effect/vitest"
import { type PolicyDecision, PolicyEngine, policyGates } from "@sluice/core"
import { Effect, Exit } from "effect"
import {
  DEFAULT_EVALUATION_TIMEOUT_MS,
  type EngineDecision,
  EngineRule,
  loadBundle,
  makeEvaluator,
  PolicyEngineLive
} from "../../src/index.js"
import { bundle } from "../helpers.js"
import { request, workload } from "./requests.js"

// Two ways a policy never answers, both compiled by the real opa (scripts/build-test-bundles.sh):
// hang.rego calls replace(name, "", "e"), which loops for good in opa's Wasm, for a workload named
// hang…; slow.rego searches input.n × input.n pairs without allocating, hours for n = 1,000,000.
const LIMIT_MS = 1_000

const named = (name: string, container: Record<string, unknown> = {}) => {
  const w = workload(container) as { readonly workload: object }
  return request({ source: "normalized", workload: { ...w.workload, name } })
}

/** A denial of every gate by the engine's time limit, naming the bundle and the limit. */
const expectTimedOut = (d: PolicyDecision | EngineDecision, bundleName: string) => {
  expect(d.allow).toBe(false)
  // Marked as a decision the engine could not reach, so a gate does not wait the limit out again
  // for each of its other workloads.
  expect(d.undecided).toBe(true)
  expect(d.deny.map((v) => v.gate)).toEqual(policyGates)
  for (const v of d.deny) {
    expect(v.rule).toBe(EngineRule.timeout)
    expect(v.message).toBe(`the evaluation of policy bundle ${bundleName} did not finish within 1s and was stopped`)
  }
}

describe("evaluation time limit", () => {
  it("the default limit is a few seconds", () => {
    expect(DEFAULT_EVALUATION_TIMEOUT_MS).toBe(5_000)
  })

  it.effect('replace(s, "", x): the gate denies with engine/timeout; the next evaluation gets a fresh worker', () =>
    Effect.gen(function* () {
      const decide = (name: string) =>
        PolicyEngine.use((e) => e.evaluate(named(name))).pipe(
          Effect.provide(PolicyEngineLive.layerFromBundles([bundle("hang.tar.gz")], { evaluationTimeoutMs: LIMIT_MS })),
          Effect.exit
        )
      const hung = yield* decide("hang-agent")
      // Fail closed: the effect succeeds with a deny, it neither fails nor dies.
      assert.isTrue(Exit.isSuccess(hung))
      expectTimedOut((hung as Exit.Success<PolicyDecision>).value, "hang")

      // One engine, several evaluations: the one after the time-out answers.
      const ev = makeEvaluator([yield* loadBundle(bundle("hang.tar.gz"))], { evaluationTimeoutMs: LIMIT_MS })
      try {
        expect((yield* ev.evaluateRequestEffect(named("agent"), 0)).decision).toEqual({
          allow: true,
          deny: [],
          warn: []
        })
        expect(ev.stats().workersStarted).toBe(1)
        expectTimedOut((yield* ev.evaluateRequestEffect(named("hang-agent"), 0)).decision, "hang")
        expect((yield* ev.evaluateRequestEffect(named("agent"), 0)).decision).toEqual({
          allow: true,
          deny: [],
          warn: []
        })
        expect(ev.stats().workersStarted).toBe(2)
      } finally {
        ev.close()
      }
    })
  )

  it.effect("an oversized numbers.range: the synchronous API denies too, and answers after it", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([yield* loadBundle(bundle("slow.tar.gz"))], { evaluationTimeoutMs: LIMIT_MS })
      try {
        expect(ev.evaluateInput({ n: 30 })).toEqual({ allow: true, deny: [], warn: [] })
        expectTimedOut(ev.evaluateInput({ n: 1_000_000 }), "slow")
        expect(ev.evaluateInput({ n: 30 })).toEqual({ allow: true, deny: [], warn: [] })
        expectTimedOut(ev.evaluateJson(JSON.stringify({ n: 1_000_000 })), "slow")
        expect(ev.evaluateJson(JSON.stringify({ n: 30 }))).toEqual({ allow: true, deny: [], warn: [] })
        expect(ev.stats().workersStarted).toBe(3)
      } finally {
        ev.close()
      }
    })
  )

  it.effect("with several bundles the time-out names the one that hung, and denies the whole decision", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([yield* loadBundle(bundle("basic.tar.gz")), yield* loadBundle(bundle("hang.tar.gz"))], {
        evaluationTimeoutMs: LIMIT_MS
      })
      try {
        expectTimedOut(ev.evaluateRequest(named("hang-agent"), 0).decision, "hang")
        // basic denies a privileged container, hang allows it: both answer again.
        const after = ev.evaluateRequest(named("agent", { securityContext: { privileged: true } }), 0).decision
        expect(after.deny.map((v) => [v.bundle, v.rule])).toEqual([["basic", "basic/privileged"]])
      } finally {
        ev.close()
      }
    })
  )

  it.effect("a worker that does not start in time denies with engine/timeout instead of waiting", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([yield* loadBundle(bundle("basic.tar.gz"))], { workerStartTimeoutMs: 1 })
      try {
        const d = ev.evaluateRequest(named("agent"), 0).decision
        expect(d.allow).toBe(false)
        expect(d.deny.map((v) => [v.rule, v.message])).toEqual(
          policyGates.map(() => [EngineRule.timeout, "the policy evaluation worker did not start within 1ms"])
        )
      } finally {
        ev.close()
      }
    })
  )
})
