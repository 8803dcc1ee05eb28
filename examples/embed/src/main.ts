import {
  configFromSpec,
  EventSink,
  FileStore,
  parseRolloutSpec,
  planWaves,
  RolloutStore,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"

const yamlText = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: node-agent }
spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { canary: { steps: [{ setWeight: 10 }, { setWeight: 50 }], maxUnavailable: 50% } }
  topology: { key: zone }
  health: { progressDeadline: 30s }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`

const parsed = parseRolloutSpec(yamlText) // a Result: a SpecError lists every problem with its path
if (Result.isFailure(parsed)) throw new Error(parsed.failure.problems.map((p) => `${p.path}: ${p.message}`).join("\n"))
const spec = parsed.success

// The targets: here a simulated fleet of 20 nodes in 3 zones. A control plane provides
// DockerAdapter.layer({ hosts: [{ name: "local" }] }) from @sluice/adapters-docker,
// KubernetesAdapter.layer({ ... }) from @sluice/adapters-k8s, or its own TargetAdapter.
const fleet = makeSimulatedFleet({ size: 20, image: "registry.sluice.dev/agents/node-agent:1.0.0" })

const rolloutId = `node-agent-2-0-0-${Date.now()}` // names its journal; resumeRollout(rolloutId) continues it after a crash
const program = Effect.gen(function* () {
  const result = yield* startRollout({
    config: configFromSpec(spec, rolloutId),
    spec: yamlText,
    plan: (inventory) => planWaves(spec, inventory)
  })
  // The journal is the audit trail. Operators' controls reach a running rollout through the
  // store too (store.sendControl: pause, resume, abort, approve, promote), from any process.
  const store = yield* RolloutStore
  const { entries } = yield* store.read(rolloutId)
  return { result, journalEntries: entries.length }
})

const { result, journalEntries } = await Effect.runPromise(
  program.pipe(
    Effect.provide(
      Layer.mergeAll(
        fleet.layer,
        PolicyEngineLive.layer, // the built-in bundle; PolicyEngineLive.layerFromBundles([...]) adds yours
        FileStore.layerNode("rollouts"), // a directory, one journal per rollout (FileStore.layer: your FileSystem)
        EventSink.fromCallback((event) => console.log(JSON.stringify(event))) // an audit log, metrics, a UI
      )
    )
  )
)
// result.outcome: "completed" | "blocked" | "rolledBack" | "aborted" | "failed" | "rollbackFailed"
console.log(
  `${result.rolloutId}: ${result.outcome}, ${result.updated.length} updated, ${journalEntries} journal entries`
)
