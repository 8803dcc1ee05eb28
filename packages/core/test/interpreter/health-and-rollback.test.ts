/**
 * What a wave's health and a rollback mean when the world is flaky (issue 14): a probe error is no
 * answer, not an unhealthy one; "could not be rolled back" means the target is not on its previous
 * revision, nothing else; rollbacks run as wide as the widest wave; the progress deadline counts
 * time without progress, not time without a process. Virtual time: no wall-clock assertion.
 */
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { describe, expect, it } from "vitest"
import { AdapterError, TargetAdapter } from "../../src/adapter/TargetAdapter.js"
import { resumeRollout, startRollout } from "../../src/interpreter/Interpreter.js"
import { forceRelease, makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore, type RolloutStoreShape } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet, type SimulatedFleetOptions } from "../../src/testing/SimulatedFleet.js"
import { chunkPlan, configFor, V1, V2 } from "../support/harness.js"
import { runVirtualPromise } from "../support/virtualTime.js"

const fleetOf = (options: Partial<SimulatedFleetOptions> & { size: number }) =>
  makeSimulatedFleet({ image: V1, namePrefix: "t", seed: 3, ...options })

const planFor = (fleet: ReturnType<typeof makeSimulatedFleet>, waveSize: number, maxUnavailable: number) => ({
  ...chunkPlan([...fleet.targets.keys()], waveSize, { maxUnavailable }),
  targets: [...fleet.targets.values()].map((t) => t.target)
})

describe("transient probe errors", () => {
  it.each([1, 2, 3])("do not fail a healthy wave (half the probes error, seed %i)", async (seed) => {
    const fleet = fleetOf({
      size: 24,
      seed,
      readyLatency: { minMs: 20, maxMs: 80 },
      faults: { healthErrorRate: 0.5 }
    })
    const store = makeMemoryStore()
    const result = await runVirtualPromise(
      startRollout({
        config: configFor({ operations: { timeoutMs: 10_000, retries: 1, retryBaseMs: 1, concurrency: 4 } }),
        spec: {},
        plan: () => planFor(fleet, 8, 4)
      }).pipe(Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store))))
    )
    expect(result.outcome).toBe("completed")
    expect(result.updated).toHaveLength(24)
    for (const t of fleet.targets.values()) expect(t.image).toBe(V2)
  })

  it("still end a wave whose target never becomes healthy, at the progress deadline", async () => {
    const fleet = fleetOf({
      size: 4,
      faults: { healthErrorRate: 0.5 },
      versions: { [V2]: { behaviour: { kind: "neverHealthy" } } }
    })
    const result = await runVirtualPromise(
      startRollout({ config: configFor(), spec: {}, plan: () => planFor(fleet, 4, 2) }).pipe(
        Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeMemoryStore())))
      )
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toContain("progress deadline")
    for (const t of fleet.targets.values()) expect(t.image).toBe(V1)
  })
})

describe("rollback", () => {
  it.each([1, 2, 3])(
    "keeps retrying transient failures: every target restored, none reported as not restored (seed %i)",
    async (seed) => {
      const fleet = fleetOf({
        size: 12,
        seed,
        faults: { transientErrorRate: 0.5, permanentApplyFailures: ["t-11"] }
      })
      const result = await runVirtualPromise(
        startRollout({
          config: configFor({ operations: { timeoutMs: 10_000, retries: 0, retryBaseMs: 1, concurrency: 4 } }),
          spec: {},
          plan: () => planFor(fleet, 12, 12)
        }).pipe(Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeMemoryStore()))))
      )
      expect(result.outcome).toBe("rolledBack")
      expect(result.rollbackFailed).toEqual([])
      for (const t of fleet.targets.values()) expect(t.image).toBe(V1)
    }
  )

  /** The fleet's adapter with a rollback that always fails on `broken`, and rollbacks counted. */
  const instrumented = (fleet: ReturnType<typeof makeSimulatedFleet>, broken = "t-0") => {
    const stats = { inFlight: 0, widest: 0 }
    const layer = Layer.effect(
      TargetAdapter,
      Effect.map(
        Effect.gen(function* () {
          return yield* TargetAdapter
        }),
        (adapter) =>
          TargetAdapter.of({
            ...adapter,
            rollback: (target, revision, ctx) =>
              target.id === broken
                ? Effect.fail(
                    new AdapterError({
                      operation: "rollback",
                      target: target.id,
                      message: "connection refused",
                      transient: false
                    })
                  )
                : Effect.acquireUseRelease(
                    Effect.sync(() => {
                      stats.inFlight++
                      stats.widest = Math.max(stats.widest, stats.inFlight)
                    }),
                    () => adapter.rollback(target, revision, ctx),
                    () => Effect.sync(() => void stats.inFlight--)
                  )
          })
      )
    ).pipe(Layer.provide(fleet.layer))
    return { stats, layer }
  }

  it("reports a target whose rollback call failed as restored when it runs its previous revision", async () => {
    // t-0's apply fails before changing anything, then its rollback call fails too: it still runs V1.
    const fleet = fleetOf({ size: 4, faults: { permanentApplyFailures: ["t-0"] } })
    const { layer } = instrumented(fleet)
    const result = await runVirtualPromise(
      startRollout({ config: configFor(), spec: {}, plan: () => planFor(fleet, 4, 4) }).pipe(
        Effect.provide(Layer.mergeAll(layer, Layer.succeed(RolloutStore, makeMemoryStore())))
      )
    )
    expect(fleet.targets.get("t-0")!.image).toBe(V1)
    expect(result.outcome).toBe("rolledBack")
    expect(result.rollbackFailed).toEqual([])
  })

  it("reports a target whose rollback failed and that still runs the new version as not restored", async () => {
    const fleet = fleetOf({ size: 4, faults: { permanentApplyFailures: ["t-3"] } })
    const { layer } = instrumented(fleet)
    const result = await runVirtualPromise(
      startRollout({ config: configFor(), spec: {}, plan: () => planFor(fleet, 4, 1) }).pipe(
        Effect.provide(Layer.mergeAll(layer, Layer.succeed(RolloutStore, makeMemoryStore())))
      )
    )
    expect(fleet.targets.get("t-0")!.image).toBe(V2)
    expect(result.outcome).toBe("rollbackFailed")
    expect(result.rollbackFailed).toEqual(["t-0"])
  })

  it("runs as many rollbacks at once as the widest wave took down, not the adapter-call concurrency", async () => {
    const fleet = fleetOf({
      size: 13,
      applyLatency: { minMs: 5, maxMs: 5 },
      faults: { permanentApplyFailures: ["t-12"] } // 13 targets: t-00 … t-12
    })
    const { stats, layer } = instrumented(fleet, "none")
    // Wave 0: 12 targets, 6 at a time; wave 1: t-12, whose failure rolls back the 12 updated ones.
    const result = await runVirtualPromise(
      startRollout({
        config: configFor({ operations: { timeoutMs: 10_000, retries: 0, retryBaseMs: 1, concurrency: 2 } }),
        spec: {},
        plan: () => planFor(fleet, 12, 6)
      }).pipe(Effect.provide(Layer.mergeAll(layer, Layer.succeed(RolloutStore, makeMemoryStore()))))
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.rolledBack).toHaveLength(13)
    expect(stats.widest).toBe(6)
  })
})

describe("the progress deadline", () => {
  it("is time without progress: a long wave whose targets keep becoming healthy completes", async () => {
    // 10 targets one at a time, each ready 300 ms after its update: about 3 s for the wave, 1 s deadline.
    const fleet = fleetOf({
      size: 10,
      applyLatency: { minMs: 1, maxMs: 1 },
      readyLatency: { minMs: 300, maxMs: 300 }
    })
    const result = await runVirtualPromise(
      startRollout({
        config: configFor({ health: { progressDeadlineMs: 1_000, minReadyMs: 0, pollIntervalMs: 10 } }),
        spec: {},
        plan: () => planFor(fleet, 10, 1)
      }).pipe(Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeMemoryStore())))),
      { stepMs: 1 }
    )
    expect(result.outcome).toBe("completed")
  })

  it("does not count the time no process ran the rollout", async () => {
    const fleet = fleetOf({
      size: 6,
      applyLatency: { minMs: 1, maxMs: 1 },
      readyLatency: { minMs: 100, maxMs: 100 }
    })
    const store = makeMemoryStore()
    let crashed = false
    // Dies after the first target became healthy: the rest of the wave is resumed a minute later.
    const crashing: RolloutStoreShape = {
      ...store,
      append: (id, entries) =>
        store.append(id, entries).pipe(
          Effect.andThen(
            Effect.suspend(() => {
              if (crashed || !entries.some((e) => e.kind === "event" && e.event.type === "TARGETS_HEALTHY"))
                return Effect.void
              crashed = true
              fleet.crash()
              return Effect.die(new Error("kill -9"))
            })
          )
        )
    }
    const config = configFor({ health: { progressDeadlineMs: 1_000, minReadyMs: 0, pollIntervalMs: 10 } })
    await runVirtualPromise(
      Effect.exit(
        startRollout({ config, spec: {}, plan: () => planFor(fleet, 6, 1) }).pipe(
          Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, crashing)))
        )
      ),
      { stepMs: 1 }
    )
    expect(crashed).toBe(true)
    forceRelease(store, "r1")
    const result = await runVirtualPromise(
      Effect.andThen(
        TestClock.adjust(60_000),
        resumeRollout("r1").pipe(Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store))))
      ),
      { stepMs: 1 }
    )
    expect(result.outcome).toBe("completed")
    for (const t of fleet.targets.values()) expect(t.image).toBe(V2)
  })
})
