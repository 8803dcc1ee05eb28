import { type AdapterError, type Plan, type Target, TargetAdapter, type TargetAdapterShape } from "@sluice/core"
import { Effect, Layer, Result, Schema } from "effect"
import { loadClients } from "./client.js"
import { KubernetesAdapterConfig, type KubernetesAdapterConfigInput, KubernetesSelector } from "./config.js"
import { makeDaemonSetDriver } from "./daemonset.js"
import { makeDeploymentDriver } from "./deployment.js"
import type { Driver } from "./driver.js"
import { KubernetesConfigError, type Operation, permanent } from "./errors.js"
import { Kube } from "./kube.js"
import { makeStatefulSetDriver } from "./statefulset.js"
import { dataOf, type TargetData, type WorkloadKind, workloadKey } from "./targets.js"

export interface KubernetesAdapterShape extends TargetAdapterShape {
  /** Where the connection came from (`kubeconfig /path (context x)` or `in-cluster`). */
  readonly origin: string
  /** The connection and its watch caches (request counting in benchmarks, tests). */
  readonly kube: Kube
}

const decodeConfig = (input: KubernetesAdapterConfigInput) =>
  Result.mapError(
    Schema.decodeUnknownResult(KubernetesAdapterConfig, { errors: "all", onExcessProperty: "error" })(input),
    (e) => new KubernetesConfigError({ message: `kubernetes adapter configuration: ${e.message}`, cause: e })
  )

/**
 * Builds the adapter: one connection, watch caches shared by every rollout it runs, and a driver per
 * workload kind. The caches are stopped when the scope closes.
 */
export const makeKubernetesAdapter = (input: KubernetesAdapterConfigInput = {}) =>
  Effect.gen(function* () {
    const config = yield* Effect.fromResult(decodeConfig(input))
    const clients = yield* loadClients(config)
    const kube = yield* Effect.acquireRelease(
      Effect.sync(
        () => new Kube(clients, config.fieldManager ?? "sluice", (config.observeTimeoutSeconds ?? 60) * 1000)
      ),
      (k) => Effect.promise(() => k.stop())
    )
    const drivers: Record<WorkloadKind, Driver> = {
      DaemonSet: makeDaemonSetDriver(kube),
      StatefulSet: makeStatefulSetDriver(kube),
      Deployment: makeDeploymentDriver(kube)
    }

    const withData = <A>(
      op: Operation,
      target: Target,
      f: (driver: Driver, d: TargetData) => Effect.Effect<A, AdapterError>
    ): Effect.Effect<A, AdapterError> => {
      const found = dataOf(op, target)
      return found.ok ? f(drivers[found.data.kind], found.data) : Effect.fail(found.error)
    }

    /** The workloads a set of targets belongs to, once each, grouped by kind. */
    const workloadsOf = (targets: ReadonlyArray<Target>) => {
      const byKey = new Map<string, TargetData>()
      for (const t of targets) {
        const found = dataOf("conclude", t)
        if (found.ok && !byKey.has(workloadKey(found.data))) byKey.set(workloadKey(found.data), found.data)
      }
      return [...byKey.values()]
    }

    const validatePlan = (plan: Plan): string | undefined => {
      const data = new Map<string, TargetData>()
      for (const t of plan.targets) {
        const found = dataOf("apply", t)
        if (found.ok) data.set(t.id, found.data)
      }
      const kinds = new Set([...data.values()].map((d) => d.kind))
      if (plan.waves.some((w) => w.kind === "preview" || w.mode === "surge")) {
        const other = [...kinds].filter((k) => k !== "Deployment")
        if (other.length > 0)
          return `blue-green needs Deployments: a ${other.join("/")} cannot run a preview beside the old version (use rolling, canary or partition)`
      }
      for (const kind of kinds) {
        const refused = drivers[kind].validatePlan?.(plan, data)
        if (refused !== undefined) return refused
      }
      return undefined
    }

    const shape: KubernetesAdapterShape = {
      name: "kubernetes",
      capabilities: { surge: true, configOnly: false, trafficWeight: false },
      selectorSchema: KubernetesSelector as unknown as Schema.Codec<unknown, unknown>,
      origin: clients.origin,
      kube,
      discover: (selector) =>
        Effect.gen(function* () {
          const decoded = Schema.decodeUnknownResult(KubernetesSelector, { errors: "all", onExcessProperty: "error" })(
            selector
          )
          if (Result.isFailure(decoded))
            return yield* permanent("discover", undefined, `invalid kubernetes selector: ${decoded.failure.message}`)
          return yield* drivers[decoded.success.kind].discover(decoded.success)
        }),
      inspect: (target) => withData("inspect", target, (driver, d) => driver.inspect(target, d)),
      render: (state, artifact) => withData("inspect", state.target, (driver, d) => driver.render(state, artifact, d)),
      apply: (target, artifact, ctx) =>
        withData("apply", target, (driver, d) => driver.apply(target, d, artifact, ctx)),
      health: (target) => withData("health", target, (driver, d) => driver.health(target, d)),
      rollback: (target, revision, ctx) =>
        withData("rollback", target, (driver, d) => driver.rollback(target, d, revision, ctx)),
      finalize: (targets) =>
        Effect.forEach(
          (["DaemonSet", "StatefulSet", "Deployment"] as const).map((kind) => ({
            kind,
            pairs: targets.flatMap((t) => {
              const found = dataOf("finalize", t)
              return found.ok && found.data.kind === kind ? [[t, found.data] as const] : []
            })
          })),
          ({ kind, pairs }) => (pairs.length === 0 ? Effect.void : drivers[kind].finalize(pairs)),
          { discard: true }
        ),
      conclude: (ctx) =>
        Effect.gen(function* () {
          const notes: Array<string> = []
          const workloads = workloadsOf(ctx.targets)
          for (const kind of ["DaemonSet", "StatefulSet", "Deployment"] as const) {
            const mine = workloads.filter((d) => d.kind === kind)
            if (mine.length > 0) notes.push(...(yield* drivers[kind].conclude(ctx, mine)))
          }
          return notes
        }),
      validatePlan
    }
    return shape
  })

export const KubernetesAdapter = {
  /** The adapter as a `TargetAdapter` layer (its watch caches live as long as the layer). */
  layer: (config: KubernetesAdapterConfigInput = {}): Layer.Layer<TargetAdapter, KubernetesConfigError> =>
    Layer.effect(
      TargetAdapter,
      Effect.map(makeKubernetesAdapter(config), (a) => TargetAdapter.of(a))
    ),
  make: makeKubernetesAdapter
} as const
