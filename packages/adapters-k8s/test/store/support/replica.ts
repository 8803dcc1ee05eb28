import { KubernetesStore } from "@sluice/adapters-k8s"
import {
  configFromSpec,
  parseRolloutSpec,
  planWaves,
  RolloutStore,
  resumeRollout,
  StoreError,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { Effect, Layer, Result, Schedule } from "effect"

// Every replica of the control plane runs this, with its own identity (its pod name).
const replica = process.env.POD_NAME ?? "replica-a"
const rolloutId = process.argv[2] ?? "node-agent-2-0-0"
const yamlText = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: node-agent }
spec:
  target: { adapter: simulated }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { rolling: { batchSize: 25%, maxUnavailable: 25% } }
  health: { minReadySeconds: 2 }
  gates: { policy: { enabled: false }, scan: { enabled: false } }
`
const parsed = parseRolloutSpec(yamlText)
if (Result.isFailure(parsed)) throw new Error(parsed.failure.message)
const spec = parsed.success

// Starts the rollout, or continues it when it exists (another replica started it, or ran it and died).
const startOrResume = Effect.gen(function* () {
  const store = yield* RolloutStore
  if ((yield* store.list()).includes(rolloutId)) return yield* resumeRollout(rolloutId, replica)
  return yield* startRollout({
    config: configFromSpec(spec, rolloutId),
    spec: yamlText,
    plan: (inventory) => planWaves(spec, inventory),
    owner: replica
  }).pipe(
    // Two replicas started it at once: the other one created it first.
    Effect.catchIf(
      (e) => e instanceof StoreError && e.operation === "create",
      () => resumeRollout(rolloutId, replica)
    )
  )
})

const result = await Effect.runPromise(
  startOrResume.pipe(
    // One replica drives the rollout; the others stand by, and one of them takes it over once the
    // holder's lease expires (its process died), with no target updated twice.
    Effect.tapError((e) =>
      e._tag === "RolloutLocked" ? Effect.sync(() => console.log(`${replica}: held by ${e.owner}`)) : Effect.void
    ),
    Effect.retry({ while: (e) => e._tag === "RolloutLocked", schedule: Schedule.spaced("1 second") }),
    Effect.provide(
      Layer.mergeAll(
        makeSimulatedFleet({ size: 8, image: "registry.sluice.dev/agents/node-agent:1.0.0" }).layer,
        KubernetesStore.layer({
          namespace: process.env.SLUICE_NAMESPACE ?? "sluice-system", // see examples/k8s/store-rbac.yaml
          identity: replica,
          leaseDurationSeconds: 15 // how long a dead holder keeps the rollout from the others
          // kubeconfig, context: default $KUBECONFIG, else ~/.kube/config, else the pod's service account
        })
      )
    )
  )
)
console.log(`${replica}: ${result.rolloutId} ${result.outcome}`)
