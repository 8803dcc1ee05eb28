// An engine process on the Kubernetes store (the built packages, as an embedding control plane runs
// them), so a test can run two at once on one rollout and kill -9 one of them.
// Usage: node store-engine.mjs '{"mode":"start"|"resume","kubeconfig","namespace","rolloutId",
//   "identity","leaseDurationSeconds","fleetFile","size","approval"?}'
// With "approval": true the rollout waits for an APPROVE control before its second wave.
// The simulated fleet is persisted to `fleetFile`, one line per target change, written before the
// change is reported (so it survives kill -9 and is the ground truth: each target's history).
// Prints every event as one JSON line on stdout, then {"type":"result"} and exits 0; a rollout
// held by another process prints {"type":"locked","owner"} and exits 64; any other failure exits 1.
import * as fs from "node:fs"
import { KubernetesStore } from "@sluice/adapters-k8s"
import { configFromSpec, EventSink, parseRolloutSpec, planWaves, resumeRollout, startRollout } from "@sluice/core"
import { makeSimulatedFleet, simTargetState } from "@sluice/core/testing"
import { Cause, Effect, Exit, Layer, Result } from "effect"

const args = JSON.parse(process.argv[2] ?? "{}")
const { mode, kubeconfig, namespace, rolloutId, identity, leaseDurationSeconds, fleetFile, size, approval } = args

const state = {}
if (fs.existsSync(fleetFile)) {
  for (const line of fs.readFileSync(fleetFile, "utf8").split("\n")) {
    if (line.trim() === "") continue
    try {
      const { id, s } = JSON.parse(line)
      state[id] = s
    } catch {
      // A torn last line from a killed process: the change it describes was never reported.
    }
  }
}
const fd = fs.openSync(fleetFile, "a")
const fleet = makeSimulatedFleet({
  size,
  zones: ["a", "b"],
  seed: 7,
  image: "registry.sluice.dev/agents/agent:1.0.0",
  applyLatency: { minMs: 20, maxMs: 60 },
  readyLatency: { minMs: 150, maxMs: 300 },
  state,
  onChange: (t) => fs.writeSync(fd, `${JSON.stringify({ id: t.target.id, s: simTargetState(t) })}\n`)
})

const yaml = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: store-engine }
spec:
  target: { adapter: simulated }
  artifact: { image: registry.sluice.dev/agents/agent:2.0.0 }
  strategy:
    rolling: { batchSize: 2, maxUnavailable: 2 }
  health: { progressDeadline: 2m }
  gates:
    policy: { enabled: false }
    scan: { enabled: false }${approval === true ? "\n    manualApproval: { before: [1] }" : ""}
`
const parsed = parseRolloutSpec(yaml, { source: "store-engine" })
if (Result.isFailure(parsed)) {
  console.error(parsed.failure.message)
  process.exit(1)
}
const spec = parsed.success
const base = configFromSpec(spec, rolloutId, { operations: { retryBaseMs: 50 } })
const config = { ...base, health: { ...base.health, pollIntervalMs: 50 } }

const layer = Layer.mergeAll(
  fleet.layer,
  KubernetesStore.layer({ kubeconfig, namespace, leaseDurationSeconds, identity }),
  EventSink.fromCallback((event) => process.stdout.write(`${JSON.stringify(event)}\n`))
)
const program =
  mode === "start"
    ? startRollout({ config, spec: yaml, plan: (inventory) => planWaves(spec, inventory), owner: identity })
    : resumeRollout(rolloutId, identity)
const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(layer)))
if (Exit.isSuccess(exit)) {
  process.stdout.write(`${JSON.stringify({ type: "result", result: exit.value })}\n`)
  process.exit(0)
}
const error = Cause.squash(exit.cause)
if (error?._tag === "RolloutLocked") {
  process.stdout.write(`${JSON.stringify({ type: "locked", owner: error.owner })}\n`)
  process.exit(64)
}
process.stdout.write(
  `${JSON.stringify({ type: "failed", tag: error?._tag, message: error?.message ?? String(error) })}\n`
)
process.exit(1)
