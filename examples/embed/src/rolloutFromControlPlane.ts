/**
 * How a control plane embeds Sluice: parse a spec, pick an adapter, a policy engine and a store,
 * subscribe to events, and run the rollout as one Effect. This one uses the simulated fleet so it
 * runs anywhere; swap `fleet.layer` for `DockerAdapter.layer(...)` from `@sluice/adapters-docker`.
 */
import {
  configFromSpec,
  EventSink,
  FileStoreLayer,
  parseRolloutSpec,
  planWaves,
  type RolloutEvent,
  type RolloutResult,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"

export const SPEC = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: node-agent }
spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy:
    canary:
      steps: [ { setWeight: 10 }, { setWeight: 50 } ]
      maxUnavailable: 50%
  topology: { key: zone }
  health: { progressDeadline: 30s }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`

export interface EmbeddedRun {
  readonly result: RolloutResult
  readonly events: ReadonlyArray<RolloutEvent>
}

export const rolloutFromControlPlane = async (options: {
  readonly storeDir: string
  readonly fleetSize: number
  readonly badVersion?: boolean
}): Promise<EmbeddedRun> => {
  // 1. Decode: a Result, never an exception. A SpecError lists every problem with its path.
  const parsed = parseRolloutSpec(SPEC, { source: "control-plane" })
  if (Result.isFailure(parsed)) {
    throw new Error(parsed.failure.problems.map((p) => `${p.path}: ${p.message}`).join("\n"))
  }
  const spec = parsed.success

  // 2. The world: here a simulated fleet; a real control plane provides its adapter's layer.
  const fleet = makeSimulatedFleet({
    size: options.fleetSize,
    image: "registry.sluice.dev/agents/node-agent:1.0.0",
    readyLatency: { minMs: 1, maxMs: 5 },
    ...(options.badVersion ? { versions: { ":2.0.0": { runsAsRoot: true } } } : {})
  })

  // 3. Events go wherever the control plane wants them: an audit log, metrics, a UI.
  const events: RolloutEvent[] = []
  const layer = Layer.mergeAll(
    fleet.layer,
    PolicyEngineLive.layer,
    FileStoreLayer(options.storeDir),
    EventSink.fromCallback((event) => events.push(event))
  )

  // 4. Run it. The rollout id names its journal; `resumeRollout(id)` continues it after a crash.
  const config = configFromSpec(spec, `node-agent-${Date.now()}`, { operations: { retryBaseMs: 10 } })
  const result = await Effect.runPromise(
    startRollout({ config, spec: SPEC, plan: (inventory) => planWaves(spec, inventory) }).pipe(Effect.provide(layer))
  )
  return { result, events }
}
