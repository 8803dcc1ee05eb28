import {
  AdapterError,
  formatSpecProblem,
  issueToProblems,
  type Plan,
  type Target,
  TargetAdapter,
  type TargetAdapterShape
} from "@sluice/core"
import { Effect, Layer, Result, Schema } from "effect"
import { loadClusters } from "./client.js"
import {
  CLUSTER_LABEL,
  KubernetesAdapterConfig,
  type KubernetesAdapterConfigInput,
  KubernetesSelector
} from "./config.js"
import { makeDaemonSetDriver } from "./daemonset.js"
import { makeDeploymentDriver } from "./deployment.js"
import { makeDigestResolver } from "./digest.js"
import type { Driver } from "./driver.js"
import { KubernetesConfigError, type Operation, permanent } from "./errors.js"
import { Kube } from "./kube.js"
import { makeStatefulSetDriver } from "./statefulset.js"
import { dataOf, type TargetData, type WorkloadKind, workloadKey } from "./targets.js"

/** One cluster's connection inside the adapter. */
export interface KubernetesCluster {
  /** Its name (`clusters[i].name`); `undefined` for the one cluster of a configuration without `clusters`. */
  readonly name: string | undefined
  /** Where its connection came from (`cluster a: kubeconfig /path (context x)`). */
  readonly origin: string
  /** Its connection and watch caches. */
  readonly kube: Kube
}

export interface KubernetesAdapterShape extends TargetAdapterShape {
  /** Where the connection came from (`kubeconfig /path (context x)` or `in-cluster`; each cluster's, joined by `; `). */
  readonly origin: string
  /** The (first) cluster's connection and its watch caches (request counting in benchmarks, tests). */
  readonly kube: Kube
  /** Every cluster, in the configuration's order (one, unnamed, without `clusters`). */
  readonly clusters: ReadonlyArray<KubernetesCluster>
}

/** Every problem with its path, unknown keys with a did-you-mean, as the spec's own errors read. */
const decodeConfig = (input: KubernetesAdapterConfigInput) =>
  Result.mapError(
    Schema.decodeUnknownResult(KubernetesAdapterConfig, { errors: "all", onExcessProperty: "error" })(input),
    (e) =>
      new KubernetesConfigError({
        message: `kubernetes adapter configuration: ${issueToProblems(e.issue, input)
          .map((p) => formatSpecProblem(p))
          .join("; ")}`,
        cause: e
      })
  )

/** What a failed request says when the apiserver could not be reached at all (no HTTP answer). */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|fetch failed|socket hang up|other side closed|cannot list\+watch|timed out/

/**
 * An error of one cluster of a multi-cluster adapter names the cluster (the same workload exists in
 * every cluster, so the message alone would not say where), and says "unreachable" when its apiserver
 * did not answer at all: a rollout that fails there reports which cluster stopped it.
 */
const inCluster = (name: string, server: string | undefined) => (e: AdapterError) =>
  new AdapterError({
    operation: e.operation,
    ...(e.target === undefined ? {} : { target: e.target }),
    message: UNREACHABLE.test(e.message)
      ? `cluster ${name} is unreachable${server === undefined ? "" : ` (${server})`}: ${e.message}`
      : `cluster ${name}: ${e.message}`,
    transient: e.transient
  })

/**
 * Builds the adapter: one connection per cluster (one without `clusters`), watch caches shared by
 * every rollout it runs, and a driver per workload kind per cluster; each call goes to its target's
 * cluster. The caches are stopped when the scope closes.
 */
export const makeKubernetesAdapter = (input: KubernetesAdapterConfigInput = {}) =>
  Effect.gen(function* () {
    const config = yield* Effect.fromResult(decodeConfig(input))
    const loaded = yield* loadClusters(config)
    /** A cluster's connection, caches and drivers, and how its errors are told apart from the others'. */
    interface Conn extends KubernetesCluster {
      readonly drivers: Record<WorkloadKind, Driver>
      readonly label: (e: AdapterError) => AdapterError
    }
    const conns: Array<Conn> = []
    for (const { name, clients } of loaded) {
      const kube = yield* Effect.acquireRelease(
        Effect.sync(
          () => new Kube(clients, config.fieldManager ?? "sluice", (config.observeTimeoutSeconds ?? 60) * 1000)
        ),
        (k) => Effect.promise(() => k.stop())
      )
      conns.push({
        name,
        origin: clients.origin,
        kube,
        drivers: {
          DaemonSet: makeDaemonSetDriver(kube),
          StatefulSet: makeStatefulSetDriver(kube),
          Deployment: makeDeploymentDriver(kube)
        },
        label: name === undefined ? (e) => e : inCluster(name, clients.config.getCurrentCluster()?.server)
      })
    }
    const byName = new Map(conns.map((c) => [c.name, c]))
    const named = conns.map((c) => c.name).join(", ")

    /**
     * The cluster a target lives in. A target of a cluster this configuration does not name (a
     * rollout resumed with another `clusters` list), or a cluster's target on a single-cluster
     * adapter and the reverse, is a permanent error: it is never sent to another cluster.
     */
    const connOf = (op: Parameters<typeof permanent>[0], target: Target, d: TargetData) => {
      const conn = byName.get(d.cluster)
      if (conn !== undefined) return { ok: true as const, conn }
      return {
        ok: false as const,
        error: permanent(
          op,
          target.id,
          d.cluster === undefined
            ? `${target.id} was discovered by a single-cluster adapter; this one has clusters ${named}`
            : `${target.id} is in cluster ${d.cluster}, which the adapter configuration does not name (${named === "" ? "it has no clusters" : `it has: ${named}`})`
        )
      }
    }

    const withData = <A>(
      op: Operation,
      target: Target,
      f: (driver: Driver, d: TargetData) => Effect.Effect<A, AdapterError>
    ): Effect.Effect<A, AdapterError> => {
      const found = dataOf(op, target)
      if (!found.ok) return Effect.fail(found.error)
      const where = connOf(op, target, found.data)
      if (!where.ok) return Effect.fail(where.error)
      return Effect.mapError(f(where.conn.drivers[found.data.kind], found.data), where.conn.label)
    }

    /** The targets (with their data) of each cluster, in the clusters' order (see `stray` for the others). */
    const byCluster = (op: Operation, targets: ReadonlyArray<Target>) =>
      conns.map((conn) => ({
        conn,
        pairs: targets.flatMap((t) => {
          const found = dataOf(op, t)
          return found.ok && found.data.cluster === conn.name ? [[t, found.data] as const] : []
        })
      }))

    /** The error for the first target of a cluster this adapter does not have (finalize and conclude refuse it too). */
    const stray = (op: Operation, targets: ReadonlyArray<Target>): AdapterError | undefined => {
      for (const t of targets) {
        const found = dataOf(op, t)
        if (!found.ok) continue
        const where = connOf(op, t, found.data)
        if (!where.ok) return where.error
      }
      return undefined
    }

    /** The workloads a set of targets belongs to, once each. */
    const workloadsOf = (pairs: ReadonlyArray<readonly [Target, TargetData]>) => {
      const byKey = new Map<string, TargetData>()
      for (const [, d] of pairs) if (!byKey.has(workloadKey(d))) byKey.set(workloadKey(d), d)
      return [...byKey.values()]
    }

    /** A discovered target of cluster `name`: its id, label and data say so. */
    const ofCluster =
      (name: string | undefined) =>
      (t: Target): Target =>
        name === undefined
          ? t
          : {
              ...t,
              id: `${name}/${t.id}`,
              labels: { ...t.labels, [CLUSTER_LABEL]: name },
              data: { ...(t.data as TargetData), cluster: name }
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
      // Each cluster's drivers judge its own targets (a StatefulSet of one name in two clusters is two).
      for (const conn of conns) {
        const mine = new Map([...data].filter(([, d]) => d.cluster === conn.name))
        for (const kind of kinds) {
          const refused = conn.drivers[kind].validatePlan?.(plan, mine)
          if (refused !== undefined) return conn.name === undefined ? refused : `cluster ${conn.name}: ${refused}`
        }
      }
      return undefined
    }

    const resolveDigest = makeDigestResolver(config, conns)

    const shape: KubernetesAdapterShape = {
      name: "kubernetes",
      capabilities: { surge: true, configOnly: false, trafficWeight: false },
      selectorSchema: KubernetesSelector as unknown as Schema.Codec<unknown, unknown>,
      origin: conns.map((c) => c.origin).join("; "),
      kube: conns[0]!.kube,
      clusters: conns.map(({ name, origin, kube }) => ({ name, origin, kube })),
      discover: (selector) =>
        Effect.gen(function* () {
          const decoded = Schema.decodeUnknownResult(KubernetesSelector, { errors: "all", onExcessProperty: "error" })(
            selector
          )
          if (Result.isFailure(decoded))
            return yield* permanent("discover", undefined, `invalid kubernetes selector: ${decoded.failure.message}`)
          const kind = decoded.success.kind
          // Every cluster at once; one that cannot be listed fails the discovery, naming it, before
          // anything is touched anywhere.
          const found = yield* Effect.forEach(
            conns,
            (conn) =>
              conn.drivers[kind].discover(decoded.success).pipe(
                Effect.map((ts) => ts.map(ofCluster(conn.name))),
                Effect.mapError(conn.label)
              ),
            { concurrency: "unbounded" }
          )
          return found.flat()
        }),
      ...(config.resolveDigests === false ? {} : { resolveDigest }),
      inspect: (target) => withData("inspect", target, (driver, d) => driver.inspect(target, d)),
      render: (state, artifact) => withData("inspect", state.target, (driver, d) => driver.render(state, artifact, d)),
      apply: (target, artifact, ctx) =>
        withData("apply", target, (driver, d) => driver.apply(target, d, artifact, ctx)),
      health: (target) => withData("health", target, (driver, d) => driver.health(target, d)),
      rollback: (target, revision, ctx) =>
        withData("rollback", target, (driver, d) => driver.rollback(target, d, revision, ctx)),
      finalize: (targets) =>
        Effect.suspend(() => {
          const refused = stray("finalize", targets)
          return refused === undefined ? Effect.void : Effect.fail(refused)
        }).pipe(
          Effect.andThen(
            Effect.forEach(
              byCluster("finalize", targets).flatMap(({ conn, pairs }) =>
                (["DaemonSet", "StatefulSet", "Deployment"] as const).map((kind) => ({
                  conn,
                  kind,
                  pairs: pairs.filter(([, d]) => d.kind === kind)
                }))
              ),
              ({ conn, kind, pairs }) =>
                pairs.length === 0 ? Effect.void : Effect.mapError(conn.drivers[kind].finalize(pairs), conn.label),
              { discard: true }
            )
          )
        ),
      conclude: (ctx) =>
        Effect.gen(function* () {
          // Every cluster is concluded even when another cannot be (an unreachable one must not
          // leave the reachable ones' DaemonSets on OnDelete); the failures are reported together.
          const refused = stray("conclude", ctx.targets)
          if (refused !== undefined) return yield* Effect.fail(refused)
          const notes: Array<string> = []
          const failures: Array<AdapterError> = []
          for (const { conn, pairs } of byCluster("conclude", ctx.targets)) {
            const workloads = workloadsOf(pairs)
            for (const kind of ["DaemonSet", "StatefulSet", "Deployment"] as const) {
              const mine = workloads.filter((d) => d.kind === kind)
              if (mine.length === 0) continue
              const said = yield* Effect.result(Effect.mapError(conn.drivers[kind].conclude(ctx, mine), conn.label))
              if (Result.isFailure(said)) failures.push(said.failure)
              else
                notes.push(
                  ...(conn.name === undefined ? said.success : said.success.map((n) => `cluster ${conn.name}: ${n}`))
                )
            }
          }
          if (failures.length === 0) return notes
          const first = failures[0]!
          if (failures.length === 1 && notes.length === 0) return yield* Effect.fail(first)
          return yield* Effect.fail(
            new AdapterError({
              operation: "conclude",
              message: [...failures.map((f) => f.message), ...notes].join("; "),
              transient: failures.every((f) => f.transient)
            })
          )
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
