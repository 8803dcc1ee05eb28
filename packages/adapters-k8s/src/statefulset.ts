/**
 * StatefulSet partition waves. A target is one ordinal of a StatefulSet (`Target.ordinal`), labelled
 * with the labels of the node its pod runs on (when it is scheduled).
 *
 * On `RollingUpdate`, the first apply sets the template to the new revision once, with
 * `partition = replicas` so nothing moves; each apply of ordinal k then lowers the partition to k
 * (never raises it), and the StatefulSet controller replaces the pods at ordinals >= k, highest
 * first. That is only faithful when the waves go from the highest ordinal down, which
 * `validatePlan` enforces. On `OnDelete`, the template is set once and each apply deletes the pod
 * at its ordinal, as for DaemonSets.
 *
 * Rollback puts the template the StatefulSet ran before back, exactly, from its ControllerRevision:
 * its `updateRevision` becomes the old revision again, so the controller itself rolls the updated
 * ordinals (all >= the partition) back. A pod the controller would wait on forever (not Ready, e.g.
 * a version that never becomes Ready) is deleted, so it is recreated from the restored template.
 * `conclude` restores the original update strategy and partition unless that would make the
 * controller update ordinals the rollout left alone. Health is read from watch-fed caches.
 */
import type { V1Pod, V1StatefulSet, V1StatefulSetUpdateStrategy } from "@kubernetes/client-node"
import type { AdapterError, HealthReport, Plan, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION, REVISION_HASH_LABEL } from "./annotations.js"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { type Operation, permanent } from "./errors.js"
import { isTerminating, type Kube, ownedBy } from "./kube.js"
import { isReady, makeRevisioned, objectCalls, podHealth, waitObserved } from "./revisioned.js"
import { CONFIG_HASH_ANNOTATION } from "./template.js"
import { deletePod, findWorkloads, renderPolicyView, targetState, type WorkloadApi } from "./workloads.js"
import { type TargetData, targetId, workloadKey } from "./targets.js"

/** `Revision.data` of a StatefulSet target: the ControllerRevision (its name) its pod was made from. */
export interface StatefulSetRevisionData {
  readonly v: 1
  readonly kind: "StatefulSet"
  readonly revision: string
}

/** `Target.data` of a StatefulSet target: the workload, the ordinal and the update strategy discovery saw. */
export interface StatefulSetTargetData extends TargetData {
  readonly kind: "StatefulSet"
  readonly ordinal: number
  readonly updateStrategy: "RollingUpdate" | "OnDelete"
}

/** For StatefulSets the pod label is the ControllerRevision's name (what `status.updateRevision` says). */
const revisionOf = (pod: V1Pod | undefined) => pod?.metadata?.labels?.[REVISION_HASH_LABEL]

const startOf = (sts: V1StatefulSet) => sts.spec?.ordinals?.start ?? 0
const replicasOf = (sts: V1StatefulSet) => sts.spec?.replicas ?? 1
/** The partition as the controller reads it: an index from `ordinals.start`, 0 when unset. */
const partitionOf = (sts: V1StatefulSet) => sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0
const isOnDelete = (sts: V1StatefulSet) => sts.spec?.updateStrategy?.type === "OnDelete"
/** On RollingUpdate, an ordinal below the partition keeps (and is recreated with) the current revision. */
const belowPartition = (sts: V1StatefulSet, ordinal: number) =>
  !isOnDelete(sts) && ordinal - startOf(sts) < partitionOf(sts)
/**
 * The revision the pod of an ordinal runs once the controller is done: the current one below the
 * partition, the update revision at or above it (and always on OnDelete, where a deleted pod comes
 * back from the update revision).
 */
const revisionAt = (sts: V1StatefulSet, ordinal: number) =>
  belowPartition(sts, ordinal) && sts.status?.currentRevision !== undefined
    ? sts.status.currentRevision
    : sts.status?.updateRevision
const ordinalOfPod = (sts: V1StatefulSet, pod: V1Pod): number | undefined => {
  const prefix = `${sts.metadata?.name ?? ""}-`
  const name = pod.metadata?.name ?? ""
  if (!name.startsWith(prefix)) return undefined
  const rest = name.slice(prefix.length)
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined
}

/** The ordinal of a target: `Target.ordinal`, else the one recorded in its data. */
const ordinalOfTarget = (target: Target, d: TargetData): number =>
  target.ordinal ?? (d as Partial<StatefulSetTargetData>).ordinal ?? -1

/**
 * Pure: a plan some StatefulSet on RollingUpdate cannot carry out with a partition, i.e. one whose
 * waves do not go from the highest ordinal down (lowering the partition for an ordinal of a wave
 * would also update the higher ordinals a later wave is meant to update).
 */
export const validateStatefulSetPlan = (plan: Plan, data: ReadonlyMap<string, TargetData>): string | undefined => {
  const byId = new Map(plan.targets.map((t) => [t.id, t]))
  /** Per StatefulSet on RollingUpdate: the lowest ordinal of the waves so far, and which wave. */
  const lowest = new Map<string, { ordinal: number; wave: number; id: string }>()
  for (const wave of plan.waves) {
    const inWave = new Map<string, { ordinal: number; id: string }>()
    for (const id of wave.targets) {
      const d = data.get(id)
      const target = byId.get(id)
      if (d === undefined || target === undefined || d.kind !== "StatefulSet") continue
      if ((d as Partial<StatefulSetTargetData>).updateStrategy === "OnDelete") continue
      const ordinal = ordinalOfTarget(target, d)
      if (ordinal < 0) return `${id}: a StatefulSet target without an ordinal`
      const key = workloadKey(d)
      const before = lowest.get(key)
      if (before !== undefined && ordinal >= before.ordinal)
        return (
          `StatefulSet ${d.namespace}/${d.name} is on RollingUpdate: its waves must go from the highest ordinal down ` +
          `(wave ${wave.index} updates ordinal ${ordinal}, but wave ${before.wave} already lowers the partition to ${before.ordinal}, ` +
          `which updates ordinal ${ordinal} with it); use the partition strategy`
        )
      const low = inWave.get(key)
      if (low === undefined || ordinal < low.ordinal) inWave.set(key, { ordinal, id })
    }
    for (const [key, low] of inWave) lowest.set(key, { ...low, wave: wave.index })
  }
  return undefined
}

export const makeStatefulSetDriver = (kube: Kube): Driver => {
  const { apps } = kube.clients
  const workloadApi: WorkloadApi<V1StatefulSet> = {
    resource: "statefulsets",
    read: (name, namespace) => apps.readNamespacedStatefulSet({ name, namespace }),
    list: (namespace, labelSelector) => apps.listNamespacedStatefulSet({ namespace, labelSelector }),
    listAll: (labelSelector) => apps.listStatefulSetForAllNamespaces({ labelSelector })
  }
  const {
    read: readStatefulSet,
    patch: patchStatefulSet,
    cached: cachedStatefulSet,
    pods: podsCache
  } = objectCalls(kube, "statefulsets", {
    cache: (namespace) => kube.statefulSets(namespace),
    read: (name, namespace) => apps.readNamespacedStatefulSet({ name, namespace }),
    patch: (args, options) => apps.patchNamespacedStatefulSet(args, options)
  })

  /** Waits until the StatefulSet controller has seen `generation` (read from the cache: no requests). */
  const observed = (op: Operation, target: string | undefined, d: TargetData, generation: number) =>
    waitObserved(
      kube,
      op,
      target,
      `StatefulSet ${d.namespace}/${d.name} generation ${generation}`,
      cachedStatefulSet(op, target, d),
      (sts) =>
        (sts.status?.observedGeneration ?? 0) >= generation &&
        (sts.metadata?.generation ?? 0) >= generation &&
        sts.status?.updateRevision !== undefined
    )

  /** The StatefulSet once its controller observed its current spec: `status.updateRevision` is then current. */
  const current = (op: Operation, target: string | undefined, d: TargetData) =>
    Effect.gen(function* () {
      const cached = yield* cachedStatefulSet(op, target, d)
      if (cached === undefined) return yield* permanent(op, target, `StatefulSet ${d.namespace}/${d.name} not found`)
      return yield* observed(op, target, d, cached.metadata?.generation ?? 0)
    })

  /** The live (not terminating) pod of an ordinal, from the cache. */
  const podAt = (op: Operation, target: string | undefined, sts: V1StatefulSet, ordinal: number) =>
    Effect.map(podsCache(op, target, sts), (pods) => {
      const pod = pods.get(`${sts.metadata?.name ?? ""}-${ordinal}`, sts.metadata?.namespace)
      return pod !== undefined && !isTerminating(pod) && ownedBy([pod], sts.metadata?.uid ?? "").length === 1
        ? pod
        : undefined
    })

  const deleteOwnedPod = (op: Operation, target: string, pod: V1Pod) => deletePod(kube, op, target, pod)

  /** The partition the StatefulSet had before the rollout (an index; 0 when unset or not RollingUpdate). */
  const originalPartitionOf = (
    sts: V1StatefulSet
  ): { strategy: V1StatefulSetUpdateStrategy; partition: number | null } => {
    const annotations = sts.metadata?.annotations ?? {}
    const strategy = JSON.parse(
      annotations[ANNOTATION.updateStrategy] ?? '{"type":"RollingUpdate"}'
    ) as V1StatefulSetUpdateStrategy
    const partition = JSON.parse(annotations[ANNOTATION.originalPartition] ?? "null") as number | null
    return { strategy, partition }
  }

  /**
   * On RollingUpdate the first preparation holds every ordinal with `partition = replicas` (the waves
   * lower it); a later one never raises a partition the waves already lowered. The revision is the
   * ControllerRevision's name (`status.updateRevision`). A rollback puts the partition back with the
   * template: the ordinals below it are the ones that ran the StatefulSet's current revision before.
   */
  const revisioned = makeRevisioned<V1StatefulSet>(kube, {
    kind: "StatefulSet",
    read: readStatefulSet,
    patch: patchStatefulSet,
    observed,
    currentRevision: (op, target, d) => Effect.map(current(op, target, d), (sts) => sts.status?.updateRevision ?? ""),
    revisionId: (cr) => cr.metadata?.name,
    previousRevision: (revision) => (revision.data as Partial<StatefulSetRevisionData> | undefined)?.revision,
    drivable: () => true,
    prepareSpec: (sts, first) =>
      first && !isOnDelete(sts)
        ? { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: replicasOf(sts) } } }
        : {},
    recordAnnotations: (sts) => ({
      [ANNOTATION.originalPartition]:
        sts.metadata?.annotations?.[ANNOTATION.originalPartition] ??
        JSON.stringify(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? null)
    }),
    restoreSpec: (sts) => {
      if (isOnDelete(sts) || sts.metadata?.annotations?.[ANNOTATION.originalPartition] === undefined) return undefined
      const { strategy, partition } = originalPartitionOf(sts)
      // An original OnDelete is given back by conclude; meanwhile nothing is below a partition.
      const want = strategy.type === "OnDelete" ? 0 : (partition ?? 0)
      return partitionOf(sts) === want
        ? undefined
        : { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: want } } }
    }
  })

  /**
   * Lowers the partition to the ordinal's index (never raises it), under the workload's lock so two
   * targets of a wave do not race, and waits until the controller has seen it.
   */
  const lowerPartition = (target: Target, d: TargetData, ordinal: number) =>
    revisioned.lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const op = "apply" as const
        const sts = yield* current(op, target.id, d)
        const index = ordinal - startOf(sts)
        if (index < 0)
          return yield* permanent(op, target.id, `ordinal ${ordinal} is below the StatefulSet's first ordinal`)
        if (partitionOf(sts) <= index) return
        const patched = yield* patchStatefulSet(op, target.id, d, {
          // Based on the partition just read: a concurrent change makes this a 409, which is retried.
          metadata: { resourceVersion: sts.metadata?.resourceVersion },
          spec: { updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: index } } }
        })
        yield* observed(op, target.id, d, patched.metadata?.generation ?? 0)
      })
    )

  const discover = (selector: KubernetesSelector) =>
    Effect.gen(function* () {
      const op = "discover" as const
      const found = yield* findWorkloads(workloadApi, selector)
      const nodes = yield* kube.synced(op, undefined, kube.nodes())
      const targets: Array<Target> = []
      for (const sts of found) {
        const namespace = sts.metadata?.namespace ?? ""
        const name = sts.metadata?.name ?? ""
        const pods = yield* podsCache(op, undefined, sts)
        const byOrdinal = new Map<number, V1Pod>()
        for (const pod of ownedBy(pods.list(namespace), sts.metadata?.uid ?? "")) {
          const ordinal = ordinalOfPod(sts, pod)
          if (ordinal !== undefined && !isTerminating(pod)) byOrdinal.set(ordinal, pod)
        }
        const start = startOf(sts)
        for (let ordinal = start; ordinal < start + replicasOf(sts); ordinal++) {
          const node = byOrdinal.get(ordinal)?.spec?.nodeName
          const labels = node === undefined ? {} : (nodes.get(node)?.metadata?.labels ?? {})
          const data: StatefulSetTargetData = {
            v: 1,
            kind: "StatefulSet",
            namespace,
            name,
            ordinal,
            updateStrategy: isOnDelete(sts) ? "OnDelete" : "RollingUpdate",
            ...(selector.container === undefined ? {} : { container: selector.container }),
            ...(selector.configVolume === undefined ? {} : { configVolume: selector.configVolume })
          }
          targets.push({
            id: targetId(data, ordinal),
            name: `${name}-${ordinal}`,
            labels: { ...labels },
            ordinal,
            data
          })
        }
      }
      return targets
    })

  const inspect = (target: Target, d: TargetData) =>
    Effect.gen(function* () {
      const op = "inspect" as const
      const sts = (yield* cachedStatefulSet(op, target.id, d)) ?? (yield* readStatefulSet(op, target.id, d))
      if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} not found`)
      const ordinal = ordinalOfTarget(target, d)
      const pod = yield* podAt(op, target.id, sts, ordinal)
      const containers = pod?.spec?.containers ?? sts.spec?.template.spec?.containers ?? []
      // No pod (being created): the revision the controller creates it from.
      const revision =
        revisionOf(pod) ?? revisionAt(sts, ordinal) ?? (yield* current(op, target.id, d)).status?.updateRevision ?? ""
      const configHash = (pod ?? sts.spec?.template)?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]
      const data: StatefulSetRevisionData = { v: 1, kind: "StatefulSet", revision }
      return targetState("StatefulSet", target, sts, {
        containers: containers,
        ...(d.container === undefined ? {} : { container: d.container }),
        ...(configHash === undefined ? {} : { configHash }),
        data
      })
    })

  const render = renderPolicyView("StatefulSet", kube)

  const apply: Driver["apply"] = (target, d, artifact, ctx) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const revision = yield* revisioned.ensurePrepared(target, d, artifact, ctx.rolloutId)
      const ordinal = ordinalOfTarget(target, d)
      const sts = yield* cachedStatefulSet(op, target.id, d)
      if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} was deleted`)
      if (isOnDelete(sts)) {
        const pod = yield* podAt(op, target.id, sts, ordinal)
        // No pod (scaled down, or the controller is creating it): it will get the new template.
        if (pod !== undefined && revisionOf(pod) !== revision) yield* deleteOwnedPod(op, target.id, pod)
      } else {
        yield* lowerPartition(target, d, ordinal)
      }
      const result: Revision = { image: artifact.image.raw, data: { v: 1, kind: "StatefulSet", revision } }
      return result
    })

  const health = Effect.fnUntraced(function* (
    target: Target,
    d: TargetData
  ): Effect.fn.Return<HealthReport, AdapterError> {
    const op = "health" as const
    const sts = yield* cachedStatefulSet(op, target.id, d)
    if (sts === undefined) return { status: "unhealthy", reason: `StatefulSet ${d.namespace}/${d.name} was deleted` }
    const ordinal = ordinalOfTarget(target, d)
    const start = startOf(sts)
    if (ordinal < start || ordinal >= start + replicasOf(sts))
      return { status: "healthy", reason: `ordinal ${ordinal} was scaled away: nothing to update there` }
    if ((sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0))
      return { status: "progressing", reason: `waiting for the StatefulSet controller to observe ${d.name}` }
    const want = revisionAt(sts, ordinal)
    const pod = yield* podAt(op, target.id, sts, ordinal)
    if (pod === undefined)
      return { status: "progressing", reason: `waiting for the StatefulSet controller to create ${d.name}-${ordinal}` }
    if (revisionOf(pod) !== want)
      return {
        status: "progressing",
        reason: `pod ${pod.metadata?.name} still runs revision ${revisionOf(pod)} (wanted: ${want})`
      }
    return podHealth(pod, "")
  })

  /**
   * The template and the partition come back (once per StatefulSet). The controller then rolls the
   * ordinals at or above the partition back to the restored template by itself, highest first; an
   * ordinal below it ran the StatefulSet's current revision before the rollout (the StatefulSet was
   * half-way through an update of its own) and gets it back by a pod delete, which the controller
   * answers with a pod of its current revision. This ordinal's pod is also deleted when the
   * controller would not replace it: on OnDelete, or not Ready (the controller waits on an unready
   * pod forever, the broken-version case).
   */
  const rollback: Driver["rollback"] = (target, d, revision, ctx) =>
    Effect.gen(function* () {
      const op = "rollback" as const
      yield* revisioned.ensureRestored(target, d, revision, ctx?.rolloutId ?? "")
      const sts = yield* cachedStatefulSet(op, target.id, d)
      if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} was deleted`)
      const ordinal = ordinalOfTarget(target, d)
      const want = revisionAt(sts, ordinal)
      const before = (revision.data as Partial<StatefulSetRevisionData> | undefined)?.revision
      if (belowPartition(sts, ordinal) && before !== undefined && want !== before)
        // The current revision moved on: every ordinal was updated and Ready once, so a pod
        // recreated below the partition would get the rollout's version again.
        return yield* permanent(
          op,
          target.id,
          `ordinal ${ordinal} ran revision ${before}, but the StatefulSet controller would recreate it from ${want}; cannot restore it exactly`
        )
      const pod = yield* podAt(op, target.id, sts, ordinal)
      if (pod === undefined || revisionOf(pod) === want) return
      const controllerRolls = !isOnDelete(sts) && !belowPartition(sts, ordinal) && isReady(pod)
      if (!controllerRolls) yield* deleteOwnedPod(op, target.id, pod)
    })

  /**
   * The StatefulSet gets its own update strategy and partition back, except when that would make
   * its controller update ordinals the rollout left on the previous revision (aborted or failed
   * without rollback, a rollback that could not restore every ordinal): then the partition stays
   * where it is, annotated with why, and the note says how to finish.
   */
  const conclude: Driver["conclude"] = (ctx, workloads) =>
    Effect.gen(function* () {
      const op = "conclude" as const
      const notes: Array<string> = []
      for (const d of workloads) {
        const where = `StatefulSet ${d.namespace}/${d.name}`
        const sts = yield* readStatefulSet(op, undefined, d)
        if (sts === undefined) {
          notes.push(`${where} no longer exists`)
          continue
        }
        const annotations = sts.metadata?.annotations ?? {}
        if (annotations[ANNOTATION.rollout] !== ctx.rolloutId) continue
        const { strategy: original, partition: originalPartition } = originalPartitionOf(sts)
        const observedSts = yield* current(op, undefined, d)
        const updateRevision = observedSts.status?.updateRevision
        const pods = yield* podsCache(op, undefined, sts)
        const live = ownedBy(pods.list(d.namespace), sts.metadata?.uid ?? "").filter((p) => !isTerminating(p))
        const start = startOf(sts)
        const partition = partitionOf(observedSts)
        const restoredPartition = original.type === "OnDelete" ? 0 : (originalPartition ?? 0)
        // The ordinals that going back to the original partition would hand to the controller, and
        // that do not run its update revision: it would update them.
        const stale =
          original.type === "OnDelete" || isOnDelete(observedSts)
            ? []
            : live.filter((p) => {
                const index = (ordinalOfPod(sts, p) ?? -1) - start
                return index >= restoredPartition && index < partition && revisionOf(p) !== updateRevision
              })
        const safe = stale.length === 0
        const restoredStrategy: Record<string, unknown> =
          original.type === "OnDelete"
            ? { ...original, rollingUpdate: null }
            : {
                ...original,
                rollingUpdate:
                  original.rollingUpdate === undefined
                    ? null
                    : { ...original.rollingUpdate, partition: original.rollingUpdate.partition ?? null }
              }
        const metadata = revisioned.concludeAnnotations(
          sts,
          safe
            ? undefined
            : `${stale.length} ordinal(s) below partition ${partition} still on the previous revision after ${ctx.outcome}`
        )
        const body = safe ? { metadata, spec: { updateStrategy: restoredStrategy } } : { metadata }
        yield* patchStatefulSet(op, undefined, d, body)
        const staleOrdinals = stale
          .map((p) => ordinalOfPod(sts, p) ?? -1)
          .sort((a, b) => a - b)
          .join(", ")
        notes.push(
          safe
            ? original.type === "OnDelete"
              ? `${where}: update strategy OnDelete restored`
              : `${where}: update strategy ${original.type ?? "RollingUpdate"} (partition ${originalPartition ?? "unset"}) restored`
            : `${where} left at partition ${partition}: ordinal(s) ${staleOrdinals} still run the previous revision (outcome ${ctx.outcome}) and restoring partition ${restoredPartition} would update them; \`sluice rollback ${ctx.rolloutId}\` restores the rest, or lower the partition to let the StatefulSet controller finish the update`
        )
        revisioned.forget(d)
      }
      return notes
    })

  return {
    discover,
    workloads: (selector: KubernetesSelector) => findWorkloads(workloadApi, selector),
    inspect,
    render,
    apply,
    health,
    rollback,
    finalize: () => Effect.void,
    conclude,
    validatePlan: validateStatefulSetPlan
  }
}
