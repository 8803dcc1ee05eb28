import { Cause, Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { resumeRollout, startRollout } from "../../src/interpreter/Interpreter.js"
import { forceRelease, makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore, type RolloutStoreShape } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet } from "../../src/testing/SimulatedFleet.js"
import { chunkPlan, configFor, V1, V2 } from "../support/harness.js"
import { runVirtualPromise } from "../support/virtualTime.js"

describe("crash windows", () => {
  it("finishes an apply that a crash cut in half after the rollout had already failed (rollback off)", async () => {
    const fleet = makeSimulatedFleet({
      size: 4,
      image: V1,
      namePrefix: "t",
      applyLatency: { minMs: 50, maxMs: 50 },
      faults: { permanentApplyFailures: ["t-0"] }
    })
    const store = makeMemoryStore()
    let crashed = false
    // Dies right after the journal write that holds TARGET_FAILED: t-1's apply is then mid-way.
    const crashing: RolloutStoreShape = {
      ...store,
      append: (id, entries) =>
        store.append(id, entries).pipe(
          Effect.andThen(
            Effect.suspend(() => {
              if (crashed || !entries.some((e) => e.kind === "event" && e.event.type === "TARGET_FAILED"))
                return Effect.void
              crashed = true
              fleet.crash()
              return Effect.die(new Error("kill -9"))
            })
          )
        )
    }
    const plan = {
      ...chunkPlan([...fleet.targets.keys()], 4, { maxUnavailable: 2 }),
      targets: [...fleet.targets.values()].map((t) => t.target)
    }
    const config = configFor({ rollback: { onFailure: false, onAbort: false } })
    const first = await runVirtualPromise(
      Effect.exit(
        startRollout({ config, spec: {}, plan: () => plan }).pipe(
          Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, crashing)))
        )
      ),
      { stepMs: 1 }
    )
    expect(Exit.isFailure(first) && Cause.hasDies(first.cause)).toBe(true)
    expect(fleet.targets.get("t-1")!.phase).toBe("stopped")
    forceRelease(store, "r1")
    const result = await runVirtualPromise(
      resumeRollout("r1").pipe(Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store))))
    )
    expect(result.outcome).toBe("failed")
    expect(fleet.targets.get("t-1")!.phase).toBe("running")
    expect(fleet.targets.get("t-1")!.image).toBe(V2)
    expect(fleet.targets.get("t-1")!.history.filter((h) => h.via === "apply")).toHaveLength(1)
  })
})
