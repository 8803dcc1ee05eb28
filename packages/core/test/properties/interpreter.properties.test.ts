import { Effect } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { replay } from "../../src/interpreter/Interpreter.js"
import { V1, V2 } from "../support/harness.js"
import { propertyRuns, type RunOutcome, runScenario, type Scenario, scenarioArb } from "./scenario.js"

const RUNS = propertyRuns(150)

const applies = (o: RunOutcome, id: string) => o.fleet.targets.get(id)!.history.filter((h) => h.via === "apply")

/** Invariants every run must hold, whatever the faults, controls and crash points. */
const checkSafety = (s: Scenario, o: RunOutcome) => {
  const { result, fleet, plan } = o
  const touched = new Set(result.touched)

  // 1. No wave starts before the previous wave is healthy: every target of wave i was first
  //    updated after every target of wave i-1 had become ready on the new version.
  for (let w = 1; w < plan.waves.length; w++) {
    for (const id of plan.waves[w]!.targets) {
      const first = applies(o, id)[0]
      if (first === undefined) continue
      for (const prev of plan.waves[w - 1]!.targets) {
        const prevApply = applies(o, prev)[0]
        expect(prevApply, `wave ${w} target ${id} started before ${prev} of wave ${w - 1} was updated`).toBeDefined()
        expect(prevApply!.readyAt).toBeLessThanOrEqual(first.at)
      }
    }
  }

  // 2. Never more targets down at once than the strategy allows.
  const allowed = Math.max(...plan.waves.map((w) => w.maxUnavailable))
  expect(fleet.maxConcurrentlyDown()).toBeLessThanOrEqual(allowed)

  // 3. A denied gate touches nothing.
  if (s.gateDenied) {
    // An operator's abort that arrives before the gate's answer wins; it touches nothing either.
    expect(s.abortAtMs === null ? ["blocked"] : ["blocked", "aborted"]).toContain(result.outcome)
    for (const t of fleet.targets.values()) expect(t.history).toHaveLength(0)
  }

  // 4. After a failure or abort with rollback on, every touched target is back on its previous
  //    revision and untouched targets were never touched.
  for (const t of fleet.targets.values()) {
    if (!touched.has(t.target.id)) expect(t.history, `${t.target.id} was never dispatched yet changed`).toHaveLength(0)
    expect(t.phase, `${t.target.id} left stopped`).toBe("running")
  }
  if (result.outcome === "rolledBack" || (result.outcome === "aborted" && touched.size > 0 && s.rollbackOnAbort)) {
    for (const t of fleet.targets.values()) expect(t.image, `${t.target.id} not rolled back`).toBe(V1)
  }
  if (result.outcome === "completed") {
    for (const t of fleet.targets.values()) expect(t.image).toBe(V2)
  }

  // 5 (part). No target is updated twice for the same rollout, crashes or not.
  for (const t of fleet.targets.values()) expect(applies(o, t.target.id).length).toBeLessThanOrEqual(1)

  // Resuming from the last snapshot rebuilds exactly the state a full replay of the journal does.
  const stored = Effect.runSync(o.store.read("r1"))
  if (stored.snapshot !== undefined) {
    const full = replay(stored.header.machineInput, stored.entries)
    const fromSnapshot = replay(stored.header.machineInput, stored.entries, stored.snapshot)
    expect(fromSnapshot.snapshot.value).toEqual(full.snapshot.value)
    // Compared as stored: the snapshot is JSON, where an undefined field is simply absent.
    const json = (u: unknown) => JSON.parse(JSON.stringify(u))
    expect(json(fromSnapshot.snapshot.context)).toEqual(json(full.snapshot.context))
    expect([...fromSnapshot.outstanding.entries()]).toEqual([...full.outstanding.entries()])
  }
}

/** The end state is decided by the faults alone (not by timing) in these scenarios. */
const timingIndependent = (s: Scenario) =>
  s.abortAtMs === null &&
  s.pauseAtMs === null &&
  (s.rollbackOnFailure || (s.behaviour === "healthy" && s.permanentFailure === null))

describe("rollout invariants under random faults (model-based, simulated fleet, virtual time)", () => {
  it("hold for every fault schedule, operator control and wave layout", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ crashes: false, aborts: true }), async (s) => {
        const o = await Effect.runPromise(runScenario(s, { crash: false }))
        checkSafety(s, o)
      }),
      { numRuns: RUNS }
    )
  })

  it("hold when the process crashes at random points and resumes from the journal", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ crashes: true, aborts: true }), async (s) => {
        const o = await Effect.runPromise(runScenario(s, { crash: true }))
        checkSafety(s, o)
      }),
      { numRuns: RUNS }
    )
  })

  it("crash + resume ends in the same state as a run without a crash", async () => {
    let crashed = 0
    await fc.assert(
      fc.asyncProperty(scenarioArb({ crashes: true, aborts: false }).filter(timingIndependent), async (s) => {
        const clean = await Effect.runPromise(runScenario(s, { crash: false }))
        const withCrash = await Effect.runPromise(runScenario(s, { crash: true }))
        if (withCrash.crashesHit > 0) crashed++
        expect(withCrash.result.outcome).toBe(clean.result.outcome)
        const images = (o: RunOutcome) => [...o.fleet.targets.values()].map((t) => `${t.target.id}=${t.image}`)
        expect(images(withCrash)).toEqual(images(clean))
      }),
      { numRuns: RUNS }
    )
    // The property is only meaningful if crashes actually happened in most runs.
    expect(crashed).toBeGreaterThan(RUNS / 3)
  })
})

describe("regressions found by the properties", () => {
  it("a crash in the control poller while the machine finishes still counts as a crash (then resume repairs)", async () => {
    const s: Scenario = {
      size: 5,
      zones: 1,
      waveSizes: [2],
      maxUnavailable: [2, 1],
      behaviour: "healthy",
      permanentFailure: 0,
      transientRate: 0,
      rollbackOnFailure: false,
      rollbackOnAbort: false,
      abortAtMs: null,
      pauseAtMs: 0,
      gateDenied: false,
      applyLatencyMs: 4,
      readyLatencyMs: 0,
      seed: 0,
      snapshotEvery: 1,
      crashes: [1, 13, 36]
    }
    const o = await Effect.runPromise(runScenario(s, { crash: true }))
    checkSafety(s, o)
  })
})

describe("regressions found by the properties (2)", () => {
  it("an abort during a retry backoff does not leave a target that a crash half-updated stopped", async () => {
    const s: Scenario = {
      size: 3,
      zones: 1,
      waveSizes: [2],
      maxUnavailable: [2],
      behaviour: "healthy",
      permanentFailure: null,
      transientRate: 0.1,
      rollbackOnFailure: false,
      rollbackOnAbort: false,
      abortAtMs: 0,
      pauseAtMs: null,
      gateDenied: false,
      applyLatencyMs: 1,
      readyLatencyMs: 0,
      seed: 771310476,
      snapshotEvery: 1,
      crashes: [8, 23]
    }
    const o = await Effect.runPromise(runScenario(s, { crash: true }))
    checkSafety(s, o)
  })
})

describe("regressions found by the properties (3): rollbacks start with the targets still in flight", () => {
  const base = {
    zones: 1,
    transientRate: 0,
    pauseAtMs: null,
    gateDenied: false,
    behaviour: "healthy"
  } as const
  const cases: ReadonlyArray<Scenario> = [
    {
      ...base,
      size: 4,
      waveSizes: [3, 1],
      maxUnavailable: [2],
      permanentFailure: null,
      rollbackOnFailure: false,
      rollbackOnAbort: true,
      abortAtMs: 0,
      applyLatencyMs: 1,
      readyLatencyMs: 1,
      seed: 2014790442,
      snapshotEvery: 1,
      crashes: [7, 37]
    },
    {
      ...base,
      size: 11,
      waveSizes: [3, 5],
      maxUnavailable: [1, 3, 1],
      permanentFailure: 18,
      rollbackOnFailure: true,
      rollbackOnAbort: false,
      abortAtMs: null,
      applyLatencyMs: 0,
      readyLatencyMs: 11,
      seed: -332936660,
      snapshotEvery: 1,
      crashes: [18]
    },
    {
      ...base,
      size: 6,
      waveSizes: [5, 1],
      maxUnavailable: [3],
      permanentFailure: 15,
      rollbackOnFailure: true,
      rollbackOnAbort: false,
      abortAtMs: null,
      applyLatencyMs: 1,
      readyLatencyMs: 2,
      seed: -1137334829,
      snapshotEvery: 1,
      crashes: [10]
    }
  ]
  it.each(cases.map((s, i) => [i, s] as const))("case %i keeps within the unavailability budget", async (_i, s) => {
    const o = await Effect.runPromise(runScenario(s, { crash: true }))
    checkSafety(s, o)
  })
})
