import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { JournalEntry, RolloutHeader, RolloutStoreShape } from "@sluice/core"
import { Cause, Effect, Exit, References } from "effect"
import { KubernetesStore, type KubernetesStoreOptions } from "../../../src/store/KubernetesStore.js"
import { clusterInfo } from "../../support/cluster.js"

/** A header the store accepts (the parts other modules own are only checked as JSON objects). */
export const header = (rolloutId: string, previous: Record<string, { image: string }> = {}): RolloutHeader =>
  ({
    rolloutId,
    createdAt: 0,
    spec: {},
    image: "img:2",
    adapter: "simulated",
    config: { rolloutId },
    machineInput: {
      waves: [],
      rollback: { onFailure: true, onAbort: true },
      progressDeadlineMs: 1,
      rollbackConcurrency: 1
    },
    plan: { strategy: "rolling", targets: [], waves: [], upToDate: [], fingerprint: "x" },
    previous
  }) as unknown as RolloutHeader

export const event = (at: number, reason = `r${at}`): JournalEntry => ({
  kind: "event",
  at,
  event: { type: "ABORT", reason }
})

/** Runs a store effect; its warnings are not printed. */
const quiet = <A, E>(e: Effect.Effect<A, E>) => e.pipe(Effect.provideService(References.MinimumLogLevel, "None"))
export const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(quiet(e))

/** The failure of an effect, squashed (the error value itself). */
export const failure = async <A, E>(e: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(quiet(e))
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  return Cause.squash(exit.cause) as { _tag: string; message: string; path?: string; owner?: string }
}

export const kubeconfigPath = () => {
  const p = clusterInfo().kubeconfig
  if (p === null) throw new Error("no control plane")
  return p
}

/** A store on the test cluster, in `namespace`. */
export const openStore = (
  namespace: string,
  options: Partial<KubernetesStoreOptions> = {}
): Promise<RolloutStoreShape> =>
  run(KubernetesStore.make({ kubeconfig: kubeconfigPath(), namespace, leaseDurationSeconds: 30, ...options }))

/** A temporary directory, removed by the caller's afterAll. */
export const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "sluice-kstore-"))
