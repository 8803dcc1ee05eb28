import { Effect, Fiber, Layer } from "effect"
import { EventSink, type RolloutEvent } from "../../src/events/RolloutEvent.js"
import { forceRelease } from "../../src/store/MemoryStore.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { describe, expect, it } from "vitest"
import { inspectRollout, resumeRollout, startRollout } from "../../src/interpreter/Interpreter.js"
import { PolicyEngine, type PolicyRequest } from "../../src/policy/PolicyEngine.js"
import type { ControlSignal } from "../../src/store/RolloutStore.js"
import { chunkPlan, configFor, denyImages, V1, V2, world } from "../support/harness.js"
import { parseSuccessCondition } from "../../src/spec/SuccessCondition.js"
import { runVirtual } from "../support/virtualTime.js"

const targetsOf = (w: ReturnType<typeof world>) => [...w.fleet.targets.values()].map((t) => t.target)

/** Sends a control once the rollout has published an event matching `when`. */
const operator = (w: ReturnType<typeof world>, when: (type: string) => boolean, signal: ControlSignal) =>
  Effect.gen(function* () {
    while (!w.sink.events.some((e) => when(e.type))) yield* Effect.sleep(5)
    yield* w.store.sendControl("r1", { id: `${signal}-${w.sink.events.length}`, signal, at: 0 })
  })

describe("operator controls", () => {
  it("waits for approval before a wave that needs one, then continues when approved", async () => {
    const w = world({ size: 4, namePrefix: "n" })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2, { approvalBefore: true }), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* operator(w, (t) => t === "awaitingApproval", "APPROVE")
          // Nothing may be touched before the approval arrives.
          expect([...w.fleet.targets.values()].every((t) => t.history.length === 0)).toBe(true)
          while (w.sink.events.filter((e) => e.type === "awaitingApproval").length < 2) yield* Effect.sleep(5)
          expect([...w.fleet.targets.values()].filter((t) => t.image === V2)).toHaveLength(2)
          yield* w.store.sendControl("r1", { id: "approve-2", signal: "APPROVE", at: 0 })
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
  })

  it("holds at a pause-until-resumed step until the operator resumes", async () => {
    const w = world({ size: 4, namePrefix: "n" })
    const plan = {
      ...chunkPlan([...w.fleet.targets.keys()], 2, { pauseAfter: { kind: "untilResumed" } }),
      targets: targetsOf(w)
    }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          while (!w.sink.events.some((e) => e.type === "paused")) yield* Effect.sleep(5)
          yield* Effect.sleep(10_000)
          expect([...w.fleet.targets.values()].filter((t) => t.image === V2)).toHaveLength(2)
          const mid = yield* inspectRollout("r1")
          expect(JSON.stringify(mid.snapshot.value)).toContain("pausedUntilResumed")
          yield* w.store.sendControl("r1", { id: "resume-1", signal: "RESUME", at: 0 })
          while (w.sink.events.filter((e) => e.type === "paused").length < 2) yield* Effect.sleep(5)
          yield* w.store.sendControl("r1", { id: "resume-2", signal: "RESUME", at: 0 })
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
  })

  it("aborts with rollback: every touched target returns to its previous image", async () => {
    const w = world({ size: 6, namePrefix: "n", applyLatency: { minMs: 20, maxMs: 20 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* operator(w, (t) => t === "waveHealthy", "ABORT")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("aborted")
    expect(result.touched.length).toBeGreaterThan(0)
    expect(result.rolledBack).toEqual(expect.arrayContaining([...result.touched]))
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
  })

  it("aborts without rollback when rollback on abort is off, leaving updated targets on the new image", async () => {
    const w = world({ size: 6, namePrefix: "n", applyLatency: { minMs: 20, maxMs: 20 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(
            startRollout({
              config: configFor({ rollback: { onFailure: true, onAbort: false } }),
              spec: {},
              plan: () => plan
            })
          )
          yield* operator(w, (t) => t === "waveHealthy", "ABORT")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("aborted")
    expect(result.rolledBack).toHaveLength(0)
    expect([...w.fleet.targets.values()].filter((t) => t.image === V2).length).toBeGreaterThanOrEqual(2)
  })
})

describe("gates", () => {
  it("a policy deny blocks the rollout before any target is touched and lists the violations per target", async () => {
    const w = world({ size: 5, namePrefix: "n" })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      startRollout({
        config: configFor({ gates: { policy: true, scan: false, analysis: [] } }),
        spec: {},
        plan: () => plan
      }).pipe(Effect.provide(Layer.merge(w.layer, denyImages([V2]))))
    )
    expect(result.outcome).toBe("blocked")
    expect(result.violations).toHaveLength(5)
    expect(result.violations[0]).toMatchObject({ rule: "test/denied-image", container: "agent" })
    for (const t of w.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })

  it("with the scan gate off, the recorded policy decisions agree with the gate: scan rules do not apply", async () => {
    /** Like the built-in bundle: no scan report denies (scan-gate/missing-report); `root` targets deny too. */
    const run = async (scan: boolean, root: ReadonlyArray<string>) => {
      const engine = Layer.succeed(PolicyEngine, {
        evaluate: (req: PolicyRequest) =>
          Effect.succeed({
            allow: false,
            deny: [
              ...(req.scan === undefined
                ? [{ rule: "scan-gate/missing-report", message: "no scan report", gate: "scan" as const }]
                : []),
              ...(root.includes(req.targetId)
                ? [{ rule: "non-root", message: "runs as root", container: "agent", gate: "policy" as const }]
                : [])
            ],
            warn: [{ rule: "scan-gate/exception", message: "exception applied", gate: "scan" as const }]
          })
      })
      const w = world({ size: 3, namePrefix: "n" })
      const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
      const result = await Effect.runPromise(
        startRollout({
          config: configFor({ gates: { policy: true, scan, analysis: [] } }),
          spec: {},
          plan: () => plan
        }).pipe(Effect.provide(Layer.merge(w.layer, engine)))
      )
      const decisions = new Map(
        w.sink.events.flatMap((e) => (e.type === "policyDecision" ? [[e.targetId, e.decision] as const] : []))
      )
      const gates = w.sink.events.flatMap((e) => (e.type === "gateDecided" ? [[e.gate, e.allow] as const] : []))
      return { result, decisions, gates }
    }
    // Every gate allows, and so does every recorded decision (they said allow: false, scan-gate/missing-report).
    const allowed = await run(false, [])
    expect(allowed.result.outcome).toBe("completed")
    expect(allowed.gates.length).toBeGreaterThan(0)
    expect(allowed.gates.every(([gate, allow]) => gate === "policy" && allow)).toBe(true)
    expect(allowed.decisions.size).toBe(3)
    for (const d of allowed.decisions.values()) expect(d).toEqual({ allow: true, deny: [], warn: [] })
    // A policy rule still denies, and is all its decision records.
    const denied = await run(false, ["n-0"])
    expect(denied.result.outcome).toBe("blocked")
    expect(denied.result.violations.map((v) => v.rule)).toEqual(["non-root"])
    expect(denied.gates).toEqual([["policy", false]])
    expect(denied.decisions.get("n-0")).toEqual({
      allow: false,
      deny: [{ rule: "non-root", message: "runs as root", container: "agent", gate: "policy" }],
      warn: []
    })
    expect(denied.decisions.get("n-1")).toEqual({ allow: true, deny: [], warn: [] })
    // With the scan gate on, its rules apply and are recorded as the engine gave them.
    const scanned = await run(true, [])
    expect(scanned.result.outcome).toBe("blocked")
    expect(scanned.gates).toEqual([
      ["policy", true],
      ["scan", false]
    ])
    for (const d of scanned.decisions.values()) {
      expect(d).toEqual({
        allow: false,
        deny: [{ rule: "scan-gate/missing-report", message: "no scan report", gate: "scan" }],
        warn: [{ rule: "scan-gate/exception", message: "exception applied", gate: "scan" }]
      })
    }
  })

  it("fails closed when the policy gate is on and no engine is configured", async () => {
    const w = world({ size: 2, namePrefix: "n" })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      startRollout({
        config: configFor({ gates: { policy: true, scan: false, analysis: [] } }),
        spec: {},
        plan: () => plan
      }).pipe(Effect.provide(w.layer))
    )
    expect(result.outcome).toBe("blocked")
    expect(result.reason).toMatch(/no policy engine/)
  })

  it("an analysis gate whose metric breaks the condition fails the wave and rolls back", async () => {
    const w = world({ size: 4, namePrefix: "n", versions: { [V2]: { errorRate: 0.2 } } })
    const plan = {
      ...chunkPlan([...w.fleet.targets.keys()], 2, { analysis: [{ name: "errors" }] }),
      targets: targetsOf(w)
    }
    const analysis = [
      { name: "errors", query: "error_rate", successCondition: "result < 0.05", count: 2, intervalMs: 100 }
    ]
    const result = await Effect.runPromise(
      runVirtual(
        startRollout({
          config: configFor({ gates: { policy: false, scan: false, analysis } }),
          spec: {},
          plan: () => plan
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toMatch(/0\.2 does not satisfy result < 0\.05/)
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
  })

  it("a passing analysis gate lets the rollout complete", async () => {
    const w = world({ size: 4, namePrefix: "n", versions: { [V2]: { errorRate: 0.01 } } })
    const plan = {
      ...chunkPlan([...w.fleet.targets.keys()], 2, { analysis: [{ name: "errors" }] }),
      targets: targetsOf(w)
    }
    const analysis = [
      { name: "errors", query: "error_rate", successCondition: "result < 0.05", count: 2, intervalMs: 100 }
    ]
    const result = await Effect.runPromise(
      runVirtual(
        startRollout({
          config: configFor({ gates: { policy: false, scan: false, analysis } }),
          spec: {},
          plan: () => plan
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
  })
})

describe("analysis conditions the spec accepts", () => {
  // Before one grammar: the spec accepted these and the run failed them ("cannot parse").
  for (const successCondition of ["result > 0.001 && result <= 1e-1", "result < .05", "result < 5e-2 || result == 1"]) {
    it(`"${successCondition}" passes a wave whose error rate is 0.01`, async () => {
      const w = world({ size: 4, namePrefix: "n", versions: { [V2]: { errorRate: 0.01 } } })
      const plan = {
        ...chunkPlan([...w.fleet.targets.keys()], 2, { analysis: [{ name: "errors" }] }),
        targets: targetsOf(w)
      }
      const condition = parseSuccessCondition(successCondition)
      expect(condition).toBeDefined()
      const analysis = [
        { name: "errors", query: "error_rate", successCondition, condition: condition!, count: 1, intervalMs: 100 }
      ]
      const result = await Effect.runPromise(
        runVirtual(
          startRollout({
            config: configFor({ gates: { policy: false, scan: false, analysis } }),
            spec: {},
            plan: () => plan
          }).pipe(Effect.provide(w.layer))
        )
      )
      expect(result.outcome).toBe("completed")
    })
  }
})

describe("adapter faults", () => {
  it("retries transient apply errors and still completes", async () => {
    const w = world({ size: 6, namePrefix: "n", faults: { transientErrorRate: 0.5 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 3), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        startRollout({
          config: configFor({ operations: { timeoutMs: 10_000, retries: 40, retryBaseMs: 1, concurrency: 4 } }),
          spec: {},
          plan: () => plan
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    expect(w.sink.events.some((e) => e.type === "retrying")).toBe(true)
    for (const t of w.fleet.targets.values()) expect(t.history).toHaveLength(1)
  })

  it("a permanent apply error fails the wave at once (no retries) and rolls back", async () => {
    const w = world({ size: 4, namePrefix: "n", faults: { permanentApplyFailures: ["n-2"] } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(startRollout({ config: configFor(), spec: {}, plan: () => plan }).pipe(Effect.provide(w.layer)))
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toMatch(/n-2.*permanent/)
    expect(w.sink.events.filter((e) => e.type === "retrying")).toHaveLength(0)
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
  })
})

describe("operator pause and the progress deadline", () => {
  it("stops the deadline clock while paused mid-wave, so a long pause does not fail the wave", async () => {
    const w = world({ size: 6, namePrefix: "n", readyLatency: { minMs: 50, maxMs: 50 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 6, { maxUnavailable: 1 }), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(
            startRollout({
              config: configFor({ health: { progressDeadlineMs: 1_000, minReadyMs: 0, pollIntervalMs: 10 } }),
              spec: {},
              plan: () => plan
            })
          )
          yield* operator(w, (t) => t === "healthChanged", "PAUSE")
          while (!w.sink.events.some((e) => e.type === "paused")) yield* Effect.sleep(5)
          // Ten progress deadlines pass while paused.
          yield* Effect.sleep(10_000)
          const paused = yield* inspectRollout("r1")
          expect(paused.result).toBeUndefined()
          yield* w.store.sendControl("r1", { id: "resume", signal: "RESUME", at: 0 })
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V2)
  })
})

describe("controls and crashes", () => {
  it("acts on an abort sent to a crashed rollout before it re-runs any update", async () => {
    const w = world({ size: 8, namePrefix: "n", applyLatency: { minMs: 50, maxMs: 50 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 4, { maxUnavailable: 2 }), targets: targetsOf(w) }
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          while (!w.sink.events.some((e) => e.type === "targetUpdating")) yield* Effect.sleep(1)
          // kill -9 in the middle of the first wave's applies, then an operator aborts it.
          w.fleet.crash()
          yield* Fiber.interrupt(fiber)
          forceRelease(w.store, "r1")
          yield* w.store.sendControl("r1", { id: "abort-1", signal: "ABORT", at: 0, reason: "stop it" })
          return yield* resumeRollout("r1")
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("aborted")
    expect(result.reason).toBe("stop it")
    // Only the first wave's two in-flight targets were ever touched, and both are back on v1.
    const touched = [...w.fleet.targets.values()].filter((t) => t.history.length > 0)
    expect(touched.map((t) => t.target.id).sort()).toEqual(["n-0", "n-1"])
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
  })

  it("finishes the applies a crash cut in half when an abort (rollback off) cancels their updates", async () => {
    const w = world({ size: 4, namePrefix: "n", applyLatency: { minMs: 50, maxMs: 50 } })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 2, { maxUnavailable: 2 }), targets: targetsOf(w) }
    const config = configFor({ rollback: { onFailure: false, onAbort: false } })
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config, spec: {}, plan: () => plan }))
          while (!w.sink.events.some((e) => e.type === "targetUpdating")) yield* Effect.sleep(1)
          w.fleet.crash()
          yield* Fiber.interrupt(fiber)
          forceRelease(w.store, "r1")
          yield* w.store.sendControl("r1", { id: "abort-1", signal: "ABORT", at: 0 })
          return yield* resumeRollout("r1")
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("aborted")
    // The two targets stopped half way are finished (never left stopped), the rest never touched.
    for (const id of ["n-0", "n-1"]) {
      const t = w.fleet.targets.get(id)!
      expect(t.phase).toBe("running")
      expect(t.image).toBe(V2)
    }
    for (const id of ["n-2", "n-3"]) expect(w.fleet.targets.get(id)!.history).toHaveLength(0)
  })

  it("journals a control that arrives after the outcome as ignored, with the reason", async () => {
    const w = world({ size: 2, namePrefix: "n" })
    const plan = { ...chunkPlan([...w.fleet.targets.keys()], 1), targets: targetsOf(w) }
    // The operator's abort lands while the run is writing its outcome.
    const lateSink = Layer.succeed(EventSink, {
      publish: (e: RolloutEvent) =>
        e.type === "finished"
          ? w.store.sendControl("r1", { id: "late-abort", signal: "ABORT", at: 0 }).pipe(Effect.orDie)
          : Effect.void
    })
    const result = await Effect.runPromise(
      runVirtual(
        startRollout({ config: configFor(), spec: {}, plan: () => plan }).pipe(
          Effect.provide(Layer.mergeAll(w.fleet.layer, Layer.succeed(RolloutStore, w.store), lateSink))
        )
      )
    )
    expect(result.outcome).toBe("completed")
    const stored = await Effect.runPromise(w.store.read("r1"))
    const late = stored.entries.find((e) => e.kind === "control" && e.request.id === "late-abort")
    expect(late).toMatchObject({ kind: "control", ignored: "the rollout had already finished (completed)" })
    expect(await Effect.runPromise(w.store.pendingControls("r1"))).toEqual([])
  })
})
