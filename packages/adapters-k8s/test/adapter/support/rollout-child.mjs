// A rollout in a process of its own (the built packages, as an embedding program runs them), so a
// test can kill -9 it mid-rollout. Prints every event as one JSON line on stdout.
// Usage: node rollout-child.mjs '{"kubeconfig":…,"spec":…,"rolloutId":…,"storeDir":…}'
import { configFromSpec, EventSink, FileStoreLayer, parseRolloutSpec, planWaves, startRollout } from "@sluice/core"
import { KubernetesAdapter } from "@sluice/adapters-k8s"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"

const { kubeconfig, spec: yaml, rolloutId, storeDir } = JSON.parse(process.argv[2] ?? "{}")
const parsed = parseRolloutSpec(yaml, { source: "child" })
if (Result.isFailure(parsed)) {
  console.error(parsed.failure.message)
  process.exit(64)
}
const spec = parsed.success
const layer = Layer.mergeAll(
  // The test images are on a registry nobody answers at (kwok nodes pull nothing).
  KubernetesAdapter.layer({ kubeconfig, resolveDigests: false }),
  PolicyEngineLive.layer,
  FileStoreLayer(storeDir),
  EventSink.fromCallback((event) => process.stdout.write(`${JSON.stringify(event)}\n`))
)
const config = configFromSpec(spec, rolloutId, { operations: { retryBaseMs: 50 } })
const result = await Effect.runPromise(
  startRollout({ config, spec: yaml, plan: (inventory) => planWaves(spec, inventory) }).pipe(Effect.provide(layer))
)
process.stdout.write(`${JSON.stringify({ type: "result", result })}\n`)
