import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import { chunkPlan, configFor, V1, V2, world } from "../support/harness.js"
import { runVirtualPromise } from "../support/virtualTime.js"

describe("interpreter under virtual time", () => {
  it("rolls back after the progress deadline without waiting in wall-clock time", async () => {
    const w = world({
      size: 9,
      namePrefix: "n",
      applyLatency: { minMs: 20, maxMs: 50 },
      versions: { [V2]: { behaviour: { kind: "neverHealthy" } } }
    })
    const ids = [...w.fleet.targets.keys()]
    const result = await runVirtualPromise(
      startRollout({
        config: configFor({ health: { progressDeadlineMs: 600_000, minReadyMs: 0, pollIntervalMs: 1000 } }),
        spec: {},
        plan: () => ({ ...chunkPlan(ids, 3), targets: [...w.fleet.targets.values()].map((t) => t.target) })
      }).pipe(Effect.provide(w.layer))
    )
    expect(result.outcome).toBe("rolledBack")
    for (const t of w.fleet.targets.values()) expect(t.image).toBe(V1)
    void V2
  })
})
