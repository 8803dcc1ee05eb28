import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { decodeRolloutEvent, EVENT_VERSION } from "../../src/events/RolloutEvent.js"
import { resumeRollout, startRollout } from "../../src/interpreter/Interpreter.js"
import { chunkPlan, configFor, V1, V2, world } from "../support/harness.js"

const ids = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`)

describe("interpreter on the simulated fleet", () => {
  it("updates every target wave by wave and completes", async () => {
    const w = world({ size: 6, namePrefix: "node" })
    const result = await Effect.runPromise(
      startRollout({
        config: configFor(),
        spec: {},
        plan: () => ({ ...chunkPlan(ids(6), 3), targets: [...w.fleet.targets.values()].map((t) => t.target) })
      }).pipe(Effect.provide(w.layer))
    )
    expect(result.outcome).toBe("completed")
    for (const t of w.fleet.targets.values()) {
      expect(t.image).toBe(V2)
      expect(t.history).toHaveLength(1)
    }
    expect(w.sink.events.filter((e) => e.type === "waveStarted").map((e) => (e as { wave: number }).wave)).toEqual([
      0, 1
    ])
    // Every event the run published is one of the stream's Schema, versioned, with nothing extra.
    for (const e of w.sink.events) {
      expect(e.v).toBe(EVENT_VERSION)
      expect(decodeRolloutEvent(JSON.parse(JSON.stringify(e)))).toEqual(e)
    }
    expect(() => decodeRolloutEvent({ ...w.sink.events[0], extra: 1 })).toThrow(/extra/)
  })

  it("rolls every touched target back when a version never becomes healthy, leaving later waves untouched", async () => {
    const w = world({ size: 6, namePrefix: "node", versions: { [V2]: { behaviour: { kind: "neverHealthy" } } } })
    const result = await Effect.runPromise(
      startRollout({
        config: configFor({ health: { progressDeadlineMs: 200, minReadyMs: 0, pollIntervalMs: 10 } }),
        spec: {},
        plan: () => ({ ...chunkPlan(ids(6), 3), targets: [...w.fleet.targets.values()].map((t) => t.target) })
      }).pipe(Effect.provide(w.layer))
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toMatch(/progress deadline/)
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
    const touched = new Set(result.touched)
    expect(touched.size).toBeGreaterThan(0)
    for (const t of w.fleet.targets.values()) if (!touched.has(t.target.id)) expect(t.history).toHaveLength(0)
  })

  it("resumes from the journal after a crash without updating a target twice", async () => {
    const w = world({ size: 6, namePrefix: "node", applyLatency: { minMs: 5, maxMs: 5 } })
    const plan = () => ({ ...chunkPlan(ids(6), 3), targets: [...w.fleet.targets.values()].map((t) => t.target) })
    // Crash: interrupt the run part-way through.
    await Effect.runPromise(
      startRollout({ config: configFor(), spec: {}, plan }).pipe(
        Effect.provide(w.layer),
        Effect.timeoutOption(20),
        Effect.ignore
      )
    )
    const partial = [...w.fleet.targets.values()].filter((t) => t.image === V2).length
    expect(partial).toBeLessThan(6)
    w.store.dump().get("r1")!.owner = undefined
    const result = await Effect.runPromise(resumeRollout("r1").pipe(Effect.provide(w.layer)))
    expect(result.outcome).toBe("completed")
    for (const t of w.fleet.targets.values()) {
      expect(t.image).toBe(V2)
      expect(t.history.filter((h) => h.via === "apply")).toHaveLength(1)
    }
  })
})
