/**
 * `promote --full` (PROMOTE_FULL): the pause, approval or analysis the rollout is in ends, and so
 * does every later one; the waves still roll one after the other. A plain promote only ends the
 * pause it arrives in.
 */
import { Effect, Fiber } from "effect"
import { describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { Wave } from "../../src/plan/Plan.js"
import type { ControlSignal } from "../../src/store/RolloutStore.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"
import { runVirtual } from "../support/virtualTime.js"

const targetsOf = (w: ReturnType<typeof world>) => [...w.fleet.targets.values()].map((t) => t.target)
const count = (w: ReturnType<typeof world>, type: string) => w.sink.events.filter((e) => e.type === type).length

/** Waits for the `n`th event of `type`, then sends `signal`. */
const sendAt = (w: ReturnType<typeof world>, type: string, n: number, signal: ControlSignal) =>
  Effect.gen(function* () {
    while (count(w, type) < n) yield* Effect.sleep(5)
    yield* w.store.sendControl("r1", { id: `${signal}-${type}-${n}`, signal, at: 0 })
  })

const everyWave = (w: ReturnType<typeof world>, extra: Partial<Wave>) => ({
  ...chunkPlan([...w.fleet.targets.keys()], 2, extra),
  targets: targetsOf(w)
})

describe("promote --full", () => {
  it("at the first pause: no later pause, every wave rolls, completed", async () => {
    const w = world({ size: 8, namePrefix: "n" })
    const plan = everyWave(w, { pauseAfter: { kind: "untilResumed" } })
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* sendAt(w, "paused", 1, "PROMOTE_FULL")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    expect(result.updated).toHaveLength(8)
    expect(count(w, "paused")).toBe(1)
  })

  it("a plain promote ends only the pause it arrives in", async () => {
    const w = world({ size: 8, namePrefix: "n" })
    const plan = everyWave(w, { pauseAfter: { kind: "untilResumed" } })
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* sendAt(w, "paused", 1, "PROMOTE")
          yield* sendAt(w, "paused", 2, "PROMOTE")
          yield* sendAt(w, "paused", 3, "PROMOTE_FULL")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    expect(count(w, "paused")).toBe(3)
  })

  it("while waiting for an approval: approves it and every later one", async () => {
    const w = world({ size: 6, namePrefix: "n" })
    const plan = everyWave(w, { approvalBefore: true })
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* sendAt(w, "awaitingApproval", 1, "PROMOTE_FULL")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    expect(count(w, "awaitingApproval")).toBe(1)
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V2)
  })

  it("during a wave's analysis: stops it and skips the later ones (each would take 100 minutes)", async () => {
    const w = world({ size: 6, namePrefix: "n", versions: { [V2]: { errorRate: 0.01 } } })
    const plan = everyWave(w, { analysis: [{ name: "errors" }] })
    const analysis = [
      { name: "errors", query: "error_rate", successCondition: "result < 0.05", count: 100, intervalMs: 60_000 }
    ]
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(
            startRollout({
              config: configFor({ gates: { policy: false, scan: false, analysis } }),
              spec: {},
              plan: () => plan
            })
          )
          yield* sendAt(w, "waveHealthy", 1, "PROMOTE_FULL")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer)),
        { limitMs: 600_000 }
      )
    )
    expect(result.outcome).toBe("completed")
    expect(result.updated).toHaveLength(6)
  })

  it("while a wave is being applied: the pause after it and all later ones are skipped", async () => {
    const w = world({ size: 6, namePrefix: "n", applyLatency: { minMs: 50, maxMs: 50 } })
    const plan = everyWave(w, { pauseAfter: { kind: "untilResumed" } })
    const result = await Effect.runPromise(
      runVirtual(
        Effect.gen(function* () {
          const fiber = yield* Effect.forkChild(startRollout({ config: configFor(), spec: {}, plan: () => plan }))
          yield* sendAt(w, "waveStarted", 1, "PROMOTE_FULL")
          return yield* Fiber.join(fiber)
        }).pipe(Effect.provide(w.layer))
      )
    )
    expect(result.outcome).toBe("completed")
    expect(count(w, "paused")).toBe(0)
  })
})
