import fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  addMeasurement,
  assessRun,
  emptyTally,
  type MeasurementPhase,
  type RunLimits,
  type RunPhase
} from "../../src/analysis/run.js"
import { numRuns } from "../spec/arbitraries.js"

/** Feeds measurements until the run ends; the phase and how many measurements it took. */
const runOf = (phases: ReadonlyArray<MeasurementPhase>, limits: RunLimits) => {
  let t = emptyTally
  for (const [i, p] of phases.entries()) {
    t = addMeasurement(t, p)
    const phase = assessRun(t, limits)
    if (phase !== "Running") return { phase, taken: i + 1 }
  }
  return { phase: "Running" as RunPhase, taken: phases.length }
}

const argo: RunLimits = { count: 3, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 }

describe("analysis runs: Argo Rollouts' measurement limits", () => {
  it("examples", () => {
    expect(runOf(["Successful", "Successful", "Successful"], argo)).toEqual({ phase: "Successful", taken: 3 })
    // failureLimit 0: the first failure ends the run.
    expect(runOf(["Successful", "Failed", "Successful"], argo)).toEqual({ phase: "Failed", taken: 2 })
    expect(runOf(["Failed", "Successful", "Successful"], { ...argo, failureLimit: 1 })).toEqual({
      phase: "Successful",
      taken: 3
    })
    expect(runOf(["Failed", "Failed"], { ...argo, failureLimit: 1 })).toEqual({ phase: "Failed", taken: 2 })
    expect(runOf(["Inconclusive"], argo)).toEqual({ phase: "Inconclusive", taken: 1 })
    // Errors: more than consecutiveErrorLimit in a row; an answer resets the streak.
    expect(runOf(["Error", "Error", "Error", "Error", "Error"], argo)).toEqual({ phase: "Error", taken: 5 })
    expect(
      runOf(["Error", "Error", "Error", "Error", "Successful", "Error", "Error", "Successful", "Successful"], argo)
    ).toEqual({ phase: "Successful", taken: 9 })
    expect(runOf(["Error"], { ...argo, consecutiveErrorLimit: 0 })).toEqual({ phase: "Error", taken: 1 })
  })

  it("errors never use up count (Sluice: a run cannot succeed on errors alone)", () => {
    const phases = fc.array(fc.constantFrom<MeasurementPhase>("Successful", "Error"), { maxLength: 40 })
    fc.assert(
      fc.property(phases, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 5 }), (ps, count, limit) => {
        const r = runOf(ps, { count, failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: limit })
        const answered = ps.slice(0, r.taken).filter((p) => p !== "Error").length
        if (r.phase === "Successful") expect(answered).toBe(count)
        if (r.phase === "Running") expect(answered).toBeLessThan(count)
        expect(["Successful", "Error", "Running"]).toContain(r.phase)
      }),
      { numRuns }
    )
  })

  it("a run ends at the first measurement that crosses a limit, and never later than count answers", () => {
    const phases = fc.array(fc.constantFrom<MeasurementPhase>("Successful", "Failed", "Inconclusive", "Error"), {
      maxLength: 30
    })
    const limits = fc.record({
      count: fc.integer({ min: 1, max: 8 }),
      failureLimit: fc.integer({ min: 0, max: 3 }),
      inconclusiveLimit: fc.integer({ min: 0, max: 3 }),
      consecutiveErrorLimit: fc.integer({ min: 0, max: 4 })
    })
    fc.assert(
      fc.property(phases, limits, (ps, l) => {
        const r = runOf(ps, l)
        const seen = ps.slice(0, r.taken)
        const count = (p: MeasurementPhase) => seen.filter((x) => x === p).length
        if (r.phase === "Failed") expect(count("Failed")).toBe(l.failureLimit + 1)
        if (r.phase === "Inconclusive") expect(count("Inconclusive")).toBe(l.inconclusiveLimit + 1)
        if (r.phase === "Successful") {
          expect(count("Failed")).toBeLessThanOrEqual(l.failureLimit)
          expect(count("Inconclusive")).toBeLessThanOrEqual(l.inconclusiveLimit)
        }
        expect(seen.length - count("Error")).toBeLessThanOrEqual(l.count)
      }),
      { numRuns }
    )
  })
})
