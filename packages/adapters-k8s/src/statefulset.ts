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
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1StatefulSet,
  type V1StatefulSetUpdateStrategy
} from "@kubernetes/client-node"
import type { AdapterError, HealthReport, Plan, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION, REVISION_HASH_LABEL } from "./annotations.js"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { kubeCall, kubeCallAllowing, kubeCallOptional, type Operation, permanent, transient } from "./errors.js"
import { isTerminating, type Kube, ownedBy, selectorString } from "./kube.js"
import { CONFIG_HASH_ANNOTATION, configMapFor, isRendered, renderTemplate } from "./template.js"
import {
  deletePod,
  findWorkloads,
  keyedLocks,
  refuseOtherRollout,
  renderPolicyView,
  targetState,
  type WorkloadApi
} from "./workloads.js"
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

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)

/** Container states that will not get better by waiting: the target is unhealthy now, not at the deadline. */
const HOPELESS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError"
])

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** For StatefulSets the pod label is the ControllerRevision's name (what `status.updateRevision` says). */
const revisionOf = (pod: V1Pod | undefined) => pod?.metadata?.labels?.[REVISION_HASH_LABEL]

const startOf = (sts: V1StatefulSet) => sts.spec?.ordinals?.start ?? 0
const replicasOf = (sts: V1StatefulSet) => sts.spec?.replicas ?? 1
/** The partition as the controller reads it: an index from `ordinals.start`, 0 when unset. */
const partitionOf = (sts: V1StatefulSet) => sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0
const isOnDelete = (sts: V1StatefulSet) => sts.spec?.updateStrategy?.type === "OnDelete"
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
  const { apps, core } = kube.clients
  const workloadApi: WorkloadApi<V1StatefulSet> = {
    resource: "statefulsets",
    read: (name, namespace) => apps.readNamespacedStatefulSet({ name, namespace }),
    list: (namespace, labelSelector) => apps.listNamespacedStatefulSet({ namespace, labelSelector }),
    listAll: (labelSelector) => apps.listStatefulSetForAllNamespaces({ labelSelector })
  }
  const lockOf = keyedLocks()
  /** Per StatefulSet: what this process already prepared for a rollout, so later targets skip the GET. */
  const prepared = new Map<string, { rolloutId: string; artifact: string; revision: string }>()
  const restored = new Map<string, { rolloutId: string; revision: string }>()

  const stsRequest = (d: TargetData, verb: "get" | "patch" | "list") =>
    ({ verb, resource: "statefulsets", namespace: d.namespace, name: d.name }) as const

  const readStatefulSet = (op: Operation, target: string | undefined, d: TargetData) =>
    kubeCallOptional(op, target, stsRequest(d, "get"), () =>
      apps.readNamespacedStatefulSet({ name: d.name, namespace: d.namespace })
    )

  const patchStatefulSet = (
    op: Operation,
    target: string | undefined,
    d: TargetData,
    body: object,
    options: typeof mergePatch = mergePatch
  ) =>
    kubeCall(op, target, stsRequest(d, "patch"), () =>
      apps.patchNamespacedStatefulSet(
        { name: d.name, namespace: d.namespace, fieldManager: kube.fieldManager, body },
        options
      )
    )

  const podsCache = (op: Operation, target: string | undefined, sts: V1StatefulSet) =>
    kube.synced(op, target, kube.pods(sts.metadata?.namespace ?? "", selectorString(sts.spec?.selector)))

  /** The StatefulSet from the watch cache (the first call lists and watches its namespace). */
  const cachedStatefulSet = (op: Operation, target: string | undefined, d: TargetData) =>
    Effect.gen(function* () {
      const cache = yield* kube.synced(op, target, kube.statefulSets(d.namespace))
      return cache.get(d.name, d.namespace)
    })

  /** Waits until the StatefulSet controller has seen `generation` (read from the cache: no requests). */
  const observed = (op: Operation, target: string | undefined, d: TargetData, generation: number) =>
    Effect.gen(function* () {
      const deadline = Date.now() + kube.observeTimeoutMs
      while (true) {
        const sts = yield* cachedStatefulSet(op, target, d)
        if (sts === undefined) return yield* permanent(op, target, `StatefulSet ${d.namespace}/${d.name} was deleted`)
        if (
          (sts.status?.observedGeneration ?? 0) >= generation &&
          (sts.metadata?.generation ?? 0) >= generation &&
          sts.status?.updateRevision !== undefined
        )
          return sts
        if (Date.now() > deadline)
          return yield* transient(
            op,
            target,
            `the StatefulSet controller has not observed ${d.namespace}/${d.name} generation ${generation} (is kube-controller-manager running?)`
          )
        yield* Effect.sleep(50)
      }
    })

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

  /**
   * Sets the new template once per rollout (idempotent: a second call, or one after a crash, finds it
   * done), with `partition = replicas` on RollingUpdate so no pod moves yet. What conclude and
   * rollback need (original revision, strategy, partition) is recorded on the StatefulSet in the same
   * patch. Returns the new revision's name.
   */
  const ensurePrepared = (target: Target, d: TargetData, artifact: Parameters<Driver["apply"]>[2], rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = prepared.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId && memo.artifact === JSON.stringify(artifact))
          return memo.revision
        const op = "apply" as const
        const sts = yield* readStatefulSet(op, target.id, d)
        if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} not found`)
        const annotations = sts.metadata?.annotations ?? {}
        const owner = yield* refuseOtherRollout(
          op,
          target.id,
          "StatefulSet",
          sts,
          rolloutId,
          `finish or roll back that one first`
        )
        const template = sts.spec?.template
        if (template === undefined) return yield* permanent(op, target.id, "the StatefulSet has no pod template")
        if (owner !== rolloutId || !isRendered(template, artifact, d)) {
          const rendered = renderTemplate(template, artifact, d)
          if (rendered.missing !== undefined) return yield* permanent(op, target.id, rendered.missing)
          const cm = configMapFor(d, artifact)
          if (cm !== undefined) {
            // Named by its content: one that already exists (409) is the same config.
            yield* kubeCallAllowing(
              [409],
              op,
              target.id,
              { verb: "create", resource: "configmaps", namespace: d.namespace },
              () =>
                core.createNamespacedConfigMap({ namespace: d.namespace, body: cm, fieldManager: kube.fieldManager })
            )
          }
          // The first preparation records what the rollout must restore, and holds every ordinal
          // with the partition; a later one (the template was changed under the rollout) only
          // re-renders the template and never raises a partition the waves already lowered.
          const first = owner !== rolloutId
          const original = first ? (yield* current(op, target.id, d)).status?.updateRevision : undefined
          const spec: Record<string, unknown> = { template: rendered.template }
          if (first && !isOnDelete(sts))
            spec.updateStrategy = { type: "RollingUpdate", rollingUpdate: { partition: replicasOf(sts) } }
          const patched = yield* patchStatefulSet(op, target.id, d, {
            metadata: {
              // Optimistic concurrency: a concurrent writer makes this a 409, which is retried.
              resourceVersion: sts.metadata?.resourceVersion,
              annotations: first
                ? {
                    [ANNOTATION.rollout]: rolloutId,
                    [ANNOTATION.originalRevision]: annotations[ANNOTATION.originalRevision] ?? original ?? null,
                    [ANNOTATION.updateStrategy]:
                      annotations[ANNOTATION.updateStrategy] ??
                      JSON.stringify(sts.spec?.updateStrategy ?? { type: "RollingUpdate" }),
                    [ANNOTATION.originalPartition]:
                      annotations[ANNOTATION.originalPartition] ??
                      JSON.stringify(sts.spec?.updateStrategy?.rollingUpdate?.partition ?? null),
                    [ANNOTATION.held]: null
                  }
                : {}
            },
            spec
          })
          yield* observed(op, target.id, d, patched.metadata?.generation ?? 0)
        }
        const revision = (yield* current(op, target.id, d)).status?.updateRevision ?? ""
        prepared.set(key, { rolloutId, artifact: JSON.stringify(artifact), revision })
        restored.delete(key)
        return revision
      })
    )

  /**
   * Lowers the partition to the ordinal's index (never raises it), under the workload's lock so two
   * targets of a wave do not race, and waits until the controller has seen it.
   */
  const lowerPartition = (target: Target, d: TargetData, ordinal: number) =>
    lockOf(workloadKey(d)).withPermit(
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

  /**
   * Puts the template the StatefulSet ran before back, from its ControllerRevision (idempotent).
   * Returns the revision pods must have to count as rolled back.
   */
  const ensureRestored = (target: Target, d: TargetData, revision: Revision, rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = restored.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId) return memo.revision
        const op = "rollback" as const
        const sts = yield* readStatefulSet(op, target.id, d)
        if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} not found`)
        const annotations = sts.metadata?.annotations ?? {}
        yield* refuseOtherRollout(op, target.id, "StatefulSet", sts, rolloutId, `not rolling it back for ${rolloutId}`)
        const previous = (revision.data as Partial<StatefulSetRevisionData> | undefined)?.revision
        const want = annotations[ANNOTATION.originalRevision] ?? previous
        if (want === undefined) return yield* permanent(op, target.id, "no previous ControllerRevision recorded")
        let now = yield* current(op, target.id, d)
        if (now.status?.updateRevision !== want) {
          const revisions = yield* kubeCall(
            op,
            target.id,
            { verb: "list", resource: "controllerrevisions", namespace: d.namespace },
            () =>
              apps.listNamespacedControllerRevision({
                namespace: d.namespace,
                labelSelector: selectorString(sts.spec?.selector)
              })
          )
          const cr = ownedBy(revisions.items, sts.metadata?.uid ?? "").find((r) => r.metadata?.name === want)
          if (cr === undefined)
            return yield* permanent(
              op,
              target.id,
              `the ControllerRevision ${want} the StatefulSet ran before is gone (revisionHistoryLimit?); cannot restore its template exactly`
            )
          // The revision's data is a strategic merge patch of the template (`$patch: replace`).
          const patched = yield* patchStatefulSet(
            op,
            target.id,
            d,
            { ...(cr.data as object), metadata: { resourceVersion: sts.metadata?.resourceVersion } },
            strategicMergePatch
          )
          now = yield* observed(op, target.id, d, patched.metadata?.generation ?? 0)
        }
        const restoredRevision = now.status?.updateRevision ?? want
        restored.set(key, { rolloutId, revision: restoredRevision })
        prepared.delete(key)
        return restoredRevision
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
        revisionOf(pod) ??
        (!isOnDelete(sts) && ordinal - startOf(sts) < partitionOf(sts)
          ? sts.status?.currentRevision
          : sts.status?.updateRevision) ??
        (yield* current(op, target.id, d)).status?.updateRevision ??
        ""
      const configHash = (pod ?? sts.spec?.template)?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]
      const data: StatefulSetRevisionData = { v: 1, kind: "StatefulSet", revision }
      return targetState("StatefulSet", target, sts, {
        containers: containers,
        ...(d.container === undefined ? {} : { container: d.container }),
        ...(configHash === undefined ? {} : { configHash }),
        data
      })
    })

  const render = renderPolicyView("StatefulSet")

  const apply: Driver["apply"] = (target, d, artifact, ctx) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const revision = yield* ensurePrepared(target, d, artifact, ctx.rolloutId)
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
    const want = sts.status?.updateRevision
    const pod = yield* podAt(op, target.id, sts, ordinal)
    if (pod === undefined)
      return { status: "progressing", reason: `waiting for the StatefulSet controller to create ${d.name}-${ordinal}` }
    if (revisionOf(pod) !== want) {
      const held = !isOnDelete(sts) && ordinal - start < partitionOf(sts)
      return {
        status: "progressing",
        reason: `pod ${pod.metadata?.name} still runs revision ${revisionOf(pod)}${held ? ` (partition ${partitionOf(sts)})` : ""}`
      }
    }
    for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = s.state?.waiting?.reason
      if (waiting !== undefined && HOPELESS.has(waiting))
        return {
          status: "unhealthy",
          reason: `pod ${pod.metadata?.name}: container ${s.name} ${waiting}${s.state?.waiting?.message === undefined ? "" : `: ${s.state.waiting.message}`}`
        }
    }
    if (pod.status?.phase === "Failed") return { status: "unhealthy", reason: `pod ${pod.metadata?.name} failed` }
    if (isReady(pod)) return { status: "healthy" }
    const notReady = pod.status?.conditions?.find((c) => c.type === "Ready")
    return {
      status: "progressing",
      reason: `pod ${pod.metadata?.name} not ready${notReady?.message === undefined ? "" : `: ${notReady.message}`}`
    }
  })

  /**
   * The template comes back (once per StatefulSet); the controller then rolls the ordinals >= the
   * partition back to it by itself, highest first. This ordinal's pod is deleted when the controller
   * would not replace it: on OnDelete, below the partition, or not Ready (the controller waits on an
   * unready pod forever, the broken-version case).
   */
  const rollback: Driver["rollback"] = (target, d, revision, ctx) =>
    Effect.gen(function* () {
      const op = "rollback" as const
      const want = yield* ensureRestored(target, d, revision, ctx?.rolloutId ?? "")
      const sts = yield* cachedStatefulSet(op, target.id, d)
      if (sts === undefined) return yield* permanent(op, target.id, `StatefulSet ${d.namespace}/${d.name} was deleted`)
      const ordinal = ordinalOfTarget(target, d)
      const pod = yield* podAt(op, target.id, sts, ordinal)
      if (pod === undefined || revisionOf(pod) === want) return
      const controllerRolls = !isOnDelete(sts) && ordinal - startOf(sts) >= partitionOf(sts) && isReady(pod)
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
        const original = JSON.parse(
          annotations[ANNOTATION.updateStrategy] ?? '{"type":"RollingUpdate"}'
        ) as V1StatefulSetUpdateStrategy
        const originalPartition = JSON.parse(annotations[ANNOTATION.originalPartition] ?? "null") as number | null
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
        const body = safe
          ? {
              metadata: {
                resourceVersion: sts.metadata?.resourceVersion,
                annotations: {
                  [ANNOTATION.rollout]: null,
                  [ANNOTATION.updateStrategy]: null,
                  [ANNOTATION.originalRevision]: null,
                  [ANNOTATION.originalPartition]: null,
                  [ANNOTATION.held]: null
                }
              },
              spec: { updateStrategy: restoredStrategy }
            }
          : {
              metadata: {
                resourceVersion: sts.metadata?.resourceVersion,
                annotations: {
                  [ANNOTATION.held]: `${stale.length} ordinal(s) below partition ${partition} still on the previous revision after ${ctx.outcome}`
                }
              }
            }
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
        prepared.delete(workloadKey(d))
        restored.delete(workloadKey(d))
      }
      return notes
    })

  return {
    discover,
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
