import { Effect, Layer } from "effect"
import { EventSink, type RolloutEvent } from "../../src/events/RolloutEvent.js"
import type { RolloutConfig } from "../../src/interpreter/RolloutConfig.js"
import type { Plan, Wave } from "../../src/plan/Plan.js"
import { PolicyEngine, type PolicyRequest } from "../../src/policy/PolicyEngine.js"
import { makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet, type SimulatedFleetOptions } from "../../src/testing/SimulatedFleet.js"

export const V1 = "registry.sluice.dev/agents/node-agent:1.0.0"
export const V2 = "registry.sluice.dev/agents/node-agent:2.0.0"

export const configFor = (overrides: Partial<RolloutConfig> = {}): RolloutConfig => ({
  rolloutId: "r1",
  adapter: "simulated",
  selector: {},
  artifact: {
    image: { raw: V2, registry: "registry.sluice.dev", repository: "agents/node-agent", tag: "2.0.0" } as never
  },
  health: { progressDeadlineMs: 5_000, minReadyMs: 0, pollIntervalMs: 10 },
  rollback: { onFailure: true, onAbort: true },
  gates: { policy: false, scan: false, analysis: [] },
  operations: { timeoutMs: 10_000, retries: 3, retryBaseMs: 1, concurrency: 4 },
  ...overrides
})

/** Splits ids into waves of `size` (a stand-in planner for interpreter tests). */
export const chunkPlan = (ids: ReadonlyArray<string>, size: number, extra: Partial<Wave> = {}): Plan => {
  const waves: Wave[] = []
  for (let i = 0; i < ids.length; i += size) {
    waves.push({
      index: waves.length,
      kind: "batch",
      targets: ids.slice(i, i + size),
      maxUnavailable: 1,
      maxSurge: 0,
      analysis: [],
      approvalBefore: false,
      ...extra
    })
  }
  return { strategy: "rolling", targets: [], waves, upToDate: [], fingerprint: "test" }
}

/** Records every published event. */
export const recordingSink = () => {
  const events: RolloutEvent[] = []
  return {
    events,
    layer: Layer.succeed(EventSink, { publish: (e: RolloutEvent) => Effect.sync(() => void events.push(e)) })
  }
}

/** A policy engine double that denies the listed images: the interpreter's gate handling, not OPA. */
export const denyImages = (images: ReadonlyArray<string>) =>
  Layer.succeed(PolicyEngine, {
    evaluate: (req: PolicyRequest) =>
      Effect.succeed(
        images.includes(req.image)
          ? {
              allow: false,
              deny: [
                {
                  rule: "test/denied-image",
                  message: `image ${req.image} is denied`,
                  container: "agent",
                  gate: "policy"
                }
              ],
              warn: []
            }
          : { allow: true, deny: [], warn: [] }
      )
  })

export const world = (fleetOptions: Partial<SimulatedFleetOptions> & { size: number }) => {
  const fleet = makeSimulatedFleet({ image: V1, seed: 7, ...fleetOptions })
  const store = makeMemoryStore()
  const sink = recordingSink()
  const layer = Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store), sink.layer)
  return { fleet, store, sink, layer }
}
