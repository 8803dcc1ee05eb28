import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { configFromSpec } from "../../src/run/fromSpec.js"
import { decodeRolloutSpec } from "../../src/spec/decode.js"
import { decodeSuccessCondition, evaluateSuccessCondition } from "../../src/spec/SuccessCondition.js"
import { propertyRuns } from "../properties/scenario.js"

const RUNS = propertyRuns(300)
const OPS = ["<", "<=", ">", ">=", "==", "!="] as const
type Op = (typeof OPS)[number]

const specWith = (successCondition: string) =>
  decodeRolloutSpec({
    apiVersion: "sluice.dev/v1alpha1",
    kind: "Rollout",
    metadata: { name: "agent" },
    spec: {
      target: { adapter: "simulated" },
      artifact: { image: "r.io/agent:2" },
      strategy: { rolling: { batchSize: 1 } },
      gates: {
        analysis: [
          { name: "error-rate", provider: "prometheus", address: "http://p:9090", query: "up", successCondition }
        ]
      }
    }
  })

/** A number as people write it: 3, -2, 0.5, .5, 5., 1e-3, +2.5E2. */
const numberText = fc
  .record({
    sign: fc.constantFrom("", "-", "+"),
    int: fc.constantFrom("", "0", "1", "42", "007"),
    frac: fc.constantFrom("", ".", ".5", ".25", ".001"),
    exp: fc.constantFrom("", "e-3", "E2", "e+1")
  })
  .filter(({ int, frac }) => int !== "" || (frac !== "" && frac !== "."))
  .map(({ sign, int, frac, exp }) => `${sign}${int}${frac}${exp}`)

const ws = fc.constantFrom("", " ", "  ")
const comparison = fc
  .record({ op: fc.constantFrom(...OPS), n: numberText, a: ws, b: ws })
  .map(({ op, n, a, b }) => ({ op, value: Number(n), text: `result${a}${op}${b}${n}` }))
/** A condition and the structure it was built from (the reference evaluation). */
const condition = fc
  .array(fc.array(comparison, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 3 })
  .chain((disjuncts) =>
    fc.tuple(fc.constant(disjuncts), ws, ws).map(([d, l, r]) => ({
      structure: d,
      text: d.map((conj) => conj.map((c) => `${l}${c.text}${r}`).join("&&")).join("||")
    }))
  )

const reference = (structure: ReadonlyArray<ReadonlyArray<{ op: Op; value: number }>>, x: number) =>
  structure.some((conj) =>
    conj.every(({ op, value }) =>
      op === "<"
        ? x < value
        : op === "<="
          ? x <= value
          : op === ">"
            ? x > value
            : op === ">="
              ? x >= value
              : op === "=="
                ? x === value
                : x !== value
    )
  )

describe("success conditions: one grammar from the spec to the run", () => {
  it("a condition the spec accepts is decoded into the run's config and evaluates like its reference", () => {
    fc.assert(
      fc.property(condition, fc.array(fc.double(), { maxLength: 8 }), ({ structure, text }, results) => {
        const spec = specWith(text)
        expect(Result.isSuccess(spec), text).toBe(true)
        if (!Result.isSuccess(spec)) return
        const parsed = configFromSpec(spec.success, "r1").gates.analysis[0]?.condition
        expect(parsed).toBeDefined()
        for (const x of [...results, Number.NaN, 0, 1e-3]) {
          expect(evaluateSuccessCondition(parsed!, x)).toBe(reference(structure, x))
        }
      }),
      { numRuns: RUNS }
    )
  })

  it("a condition the spec rejects names the field and the column of the bad comparison", () => {
    const garbage = fc.constantFrom(
      "result",
      "result <",
      "< 1",
      "result =< 1",
      "res < 1",
      "result < 1x",
      "result < Infinity"
    )
    fc.assert(
      fc.property(condition, garbage, fc.nat(), ({ text }, bad, at) => {
        const parts = text.split("&&")
        const k = at % (parts.length + 1)
        const broken = [...parts.slice(0, k), ` ${bad} `, ...parts.slice(k)].join("&&")
        const column = parts.slice(0, k).reduce((n, p) => n + p.length + 2, 0) + 2
        const spec = specWith(broken)
        expect(Result.isFailure(spec), broken).toBe(true)
        if (!Result.isFailure(spec)) return
        const problem = spec.failure.problems.find((p) => p.path === "spec.gates.analysis[0].successCondition")
        expect(problem, JSON.stringify(spec.failure.problems)).toBeDefined()
        expect(problem!.message).toContain(`at column ${column}`)
        const direct = decodeSuccessCondition(broken)
        expect(Result.isFailure(direct) && direct.failure.column).toBe(column)
      }),
      { numRuns: RUNS }
    )
  })

  it("accepts what a new user writes (the issue's examples) and rejects the empty condition", () => {
    for (const [text, x, expected] of [
      ["result > 0.9 && result <= 1", 0.95, true],
      ["result > 0.9 && result <= 1", 1.5, false],
      ["result < 1e-3", 0.0005, true],
      ["result < .5", 0.6, false]
    ] as const) {
      const spec = specWith(text)
      expect(Result.isSuccess(spec), text).toBe(true)
      if (!Result.isSuccess(spec)) continue
      expect(evaluateSuccessCondition(configFromSpec(spec.success, "r1").gates.analysis[0]!.condition!, x)).toBe(
        expected
      )
    }
    expect(Result.isFailure(specWith("  "))).toBe(true)
  })
})
