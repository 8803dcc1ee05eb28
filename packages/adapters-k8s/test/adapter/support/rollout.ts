/**
 * Runs a rollout in-process against the test control plane, the way an embedding control plane
 * would: the real interpreter, the Kubernetes adapter, the built-in policy bundle, a store.
 */
import {
  configFromSpec,
  EventSink,
  makeMemoryStore,
  MemoryStoreLayer,
  parseRolloutSpec,
  planWaves,
  type RolloutConfig,
  type RolloutEvent,
  type RolloutResult,
  type RolloutStoreShape,
  resumeRollout,
  startRollout
} from "@sluice/core"
import { PolicyEngineLive, TrivyReportDirectory } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"
import { KubernetesAdapter } from "../../../src/index.js"
import { clusterInfo } from "../../support/cluster.js"

export interface RunOptions {
  readonly spec: string
  readonly rolloutId: string
  readonly store?: RolloutStoreShape
  readonly onEvent?: (event: RolloutEvent) => void
  /** Overrides of the interpreter's adapter-call defaults (fast retries in tests). */
  readonly operations?: Partial<RolloutConfig["operations"]>
  /** Adapter configuration (default: the test cluster's admin kubeconfig). */
  readonly adapter?: Parameters<typeof KubernetesAdapter.layer>[0]
  /** A directory of Trivy reports for the scan gate. */
  readonly scans?: string
}

export interface Run {
  readonly result: RolloutResult
  readonly events: ReadonlyArray<RolloutEvent>
  readonly store: RolloutStoreShape
}

export const parseSpec = (yaml: string) => {
  const parsed = parseRolloutSpec(yaml, { source: "test" })
  if (Result.isFailure(parsed))
    throw new Error(parsed.failure.problems.map((p) => `${p.path}: ${p.message}`).join("\n"))
  return parsed.success
}

const layerFor = (options: RunOptions, store: RolloutStoreShape, events: RolloutEvent[]) =>
  Layer.mergeAll(
    // The test images are on a registry nobody answers at (kwok nodes pull nothing): unless a test
    // says otherwise, tags are deployed as written, without resolving their digest.
    KubernetesAdapter.layer({
      resolveDigests: false,
      ...(options.adapter ?? { kubeconfig: clusterInfo().kubeconfig ?? "" })
    }),
    PolicyEngineLive.layer,
    MemoryStoreLayer(store),
    EventSink.fromCallback((event) => {
      events.push(event)
      options.onEvent?.(event)
    }),
    options.scans === undefined ? Layer.empty : TrivyReportDirectory.layer(options.scans)
  )

/** Plans and runs a rollout to its outcome. */
export const runRollout = async (options: RunOptions): Promise<Run> => {
  const spec = parseSpec(options.spec)
  const store = options.store ?? makeMemoryStore()
  const events: RolloutEvent[] = []
  const config = configFromSpec(spec, options.rolloutId, {
    operations: { retryBaseMs: 50, ...options.operations }
  })
  const result = await Effect.runPromise(
    startRollout({ config, spec: options.spec, plan: (inventory) => planWaves(spec, inventory) }).pipe(
      Effect.provide(layerFor(options, store, events))
    )
  )
  return { result, events, store }
}

/** Continues a rollout from the store (e.g. after a crash). */
export const resume = async (options: RunOptions & { readonly store: RolloutStoreShape }): Promise<Run> => {
  const events: RolloutEvent[] = []
  const result = await Effect.runPromise(
    resumeRollout(options.rolloutId).pipe(Effect.provide(layerFor(options, options.store, events)))
  )
  return { result, events, store: options.store }
}
