/**
 * What the DaemonSet and StatefulSet drivers share: both kinds keep their templates in
 * ControllerRevisions and label every pod with the revision it was made from, so preparing one for
 * a rollout (the new template once, what must be restored recorded on the object), restoring it
 * (the old template back from its ControllerRevision, exactly) and judging a pod are the same steps;
 * only the update strategy and what names a revision differ, and each driver says those through a
 * {@link RevisionedKind}.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type V1ControllerRevision,
  type V1Pod,
  type V1PodTemplateSpec
} from "@kubernetes/client-node"
import type { Artifact, HealthReport, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION } from "./annotations.js"
import { kubeCall, kubeCallAllowing, kubeCallOptional, type Operation, permanent, transient } from "./errors.js"
import type { WatchCache } from "./cache.js"
import { type Kube, ownedBy, selectorString } from "./kube.js"
import { type TargetData, type WorkloadKind, workloadKey } from "./targets.js"
import { configMapFor, isRendered, renderTemplate } from "./template.js"
import { keyedLocks, refuseOtherRollout } from "./workloads.js"

export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)
export const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch)

/** Container states that will not get better by waiting: the target is unhealthy now, not at the deadline. */
const HOPELESS = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError"
])

export const isReady = (pod: V1Pod) =>
  pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** The health of a pod that already runs the wanted revision: hopeless, failed, Ready, or not yet. */
export const podHealth = (pod: V1Pod, where: string): HealthReport => {
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
    reason: `pod ${pod.metadata?.name}${where} not ready${notReady?.message === undefined ? "" : `: ${notReady.message}`}`
  }
}

/**
 * Creates the artifact's config ConfigMap, if it has one. Named by its content: one that already
 * exists (409) is the same config.
 */
export const createConfigMap = (
  kube: Kube,
  op: Operation,
  target: string,
  d: TargetData,
  artifact: Artifact,
  ownerReferences?: ReadonlyArray<{ apiVersion: string; kind: string; name: string; uid: string }>
) => {
  const cm = configMapFor(d, artifact)
  if (cm === undefined) return Effect.void
  const body =
    ownerReferences === undefined ? cm : { ...cm, metadata: { ...cm.metadata, ownerReferences: [...ownerReferences] } }
  return kubeCallAllowing([409], op, target, { verb: "create", resource: "configmaps", namespace: d.namespace }, () =>
    kube.clients.core.createNamespacedConfigMap({ namespace: d.namespace, body, fieldManager: kube.fieldManager })
  ).pipe(Effect.asVoid)
}

/**
 * Polls the watch cache (no requests) until `ready` says the controller has observed what was
 * written; a transient error after the adapter's observe timeout.
 */
export const waitObserved = <T>(
  kube: Kube,
  op: Operation,
  target: string | undefined,
  what: string,
  cached: Effect.Effect<T | undefined, ReturnType<typeof permanent>>,
  ready: (obj: T) => boolean
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + kube.observeTimeoutMs
    while (true) {
      const obj = yield* cached
      if (obj === undefined) return yield* permanent(op, target, `${what} was deleted`)
      if (ready(obj)) return obj
      if (Date.now() > deadline)
        return yield* transient(
          op,
          target,
          `the controller has not observed ${what} (is kube-controller-manager running?)`
        )
      yield* Effect.sleep(50)
    }
  })

/** A DaemonSet or StatefulSet, as far as the shared steps read it. */
export interface RevisionedObject {
  metadata?: {
    name?: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    generation?: number
    annotations?: Record<string, string>
  }
  spec?: { template: V1PodTemplateSpec; selector: { matchLabels?: Record<string, string> }; updateStrategy?: object }
}

/**
 * The GET and PATCH of one DaemonSet or StatefulSet as Effects whose failures name the verb and the
 * resource (a 404 on GET is `undefined`).
 */
export const objectCalls = <T extends RevisionedObject>(
  kube: Kube,
  resource: "daemonsets" | "statefulsets",
  api: {
    readonly read: (name: string, namespace: string) => Promise<T>
    readonly patch: (
      args: { name: string; namespace: string; fieldManager: string; body: object },
      options: typeof mergePatch
    ) => Promise<T>
    /** The watch cache of this kind in a namespace. */
    readonly cache: (namespace: string) => WatchCache<T & { metadata?: object }>
  }
) => {
  const request = (d: TargetData, verb: "get" | "patch") =>
    ({ verb, resource, namespace: d.namespace, name: d.name }) as const
  return {
    /** The object from the watch cache (the first call lists and watches its namespace): no request. */
    cached: (op: Operation, target: string | undefined, d: TargetData) =>
      Effect.map(kube.synced(op, target, api.cache(d.namespace)), (cache) => cache.get(d.name, d.namespace)),
    /** The cache of the object's pods (its selector), indexed by node. */
    pods: (op: Operation, target: string | undefined, obj: T) =>
      kube.synced(op, target, kube.pods(obj.metadata?.namespace ?? "", selectorString(obj.spec?.selector))),
    read: (op: Operation, target: string | undefined, d: TargetData) =>
      kubeCallOptional(op, target, request(d, "get"), () => api.read(d.name, d.namespace)),
    patch: (op: Operation, target: string | undefined, d: TargetData, body: object, options = mergePatch) =>
      kubeCall(op, target, request(d, "patch"), () =>
        api.patch({ name: d.name, namespace: d.namespace, fieldManager: kube.fieldManager, body }, options)
      )
  }
}

/** The ControllerRevisions the controller made for this object. */
export const revisionsOf = (
  kube: Kube,
  op: Operation,
  target: string | undefined,
  obj: RevisionedObject,
  d: TargetData
) =>
  kubeCall(op, target, { verb: "list", resource: "controllerrevisions", namespace: d.namespace }, () =>
    kube.clients.apps.listNamespacedControllerRevision({
      namespace: d.namespace,
      labelSelector: selectorString(obj.spec?.selector)
    })
  ).pipe(Effect.map((list) => ownedBy(list.items, obj.metadata?.uid ?? "")))

/** What differs between the kinds. */
export interface RevisionedKind<T extends RevisionedObject> {
  readonly kind: Extract<WorkloadKind, "DaemonSet" | "StatefulSet">
  readonly read: (
    op: Operation,
    target: string | undefined,
    d: TargetData
  ) => Effect.Effect<T | undefined, ReturnType<typeof permanent>>
  readonly patch: (
    op: Operation,
    target: string | undefined,
    d: TargetData,
    body: object,
    options: typeof mergePatch
  ) => Effect.Effect<T, ReturnType<typeof permanent>>
  /** Waits until the controller has observed `generation` (from the watch cache). */
  readonly observed: (
    op: Operation,
    target: string | undefined,
    d: TargetData,
    generation: number
  ) => Effect.Effect<T, ReturnType<typeof permanent>>
  /** The revision updated pods carry, once the controller has observed the current spec. */
  readonly currentRevision: (
    op: Operation,
    target: string | undefined,
    d: TargetData
  ) => Effect.Effect<string, ReturnType<typeof permanent>>
  /** How a ControllerRevision is named in pods and annotations (DaemonSet: its hash label; StatefulSet: its name). */
  readonly revisionId: (cr: V1ControllerRevision) => string | undefined
  /** The revision id a target's `Revision.data` recorded (inspect, before the rollout). */
  readonly previousRevision: (revision: Revision) => string | undefined
  /** Beyond the template: whether the object is set up the way the rollout drives it. */
  readonly drivable: (obj: T) => boolean
  /** The spec fields besides the template the rollout sets (`first`: the first preparation of this rollout). */
  readonly prepareSpec: (obj: T, first: boolean) => Record<string, unknown>
  /** Annotations beyond the shared ones that the first preparation records. */
  readonly recordAnnotations: (obj: T) => Record<string, string>
  /** Spec fields a rollback puts back besides the template (from the recorded annotations), if they differ now. */
  readonly restoreSpec: (obj: T) => Record<string, unknown> | undefined
}

/**
 * Preparation and restoration of one kind, each once per workload and rollout (memoized in this
 * process, so the targets after the first skip the GET; idempotent across processes, so a resume
 * finds the work done).
 */
export const makeRevisioned = <T extends RevisionedObject>(kube: Kube, k: RevisionedKind<T>) => {
  const lockOf = keyedLocks()
  const prepared = new Map<string, { rolloutId: string; artifact: string; revision: string }>()
  const restored = new Map<string, { rolloutId: string; revision: string }>()

  /**
   * Sets the new template once per rollout, with what the rollout must restore (the rollout's id,
   * the revision and update strategy before it, and the kind's own) recorded in the same patch the
   * first time. The patch carries the resourceVersion it was computed from: a concurrent writer
   * makes it a 409, which is transient, and the retry reads again. Returns the new revision.
   */
  const ensurePrepared = (target: Target, d: TargetData, artifact: Artifact, rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = prepared.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId && memo.artifact === JSON.stringify(artifact))
          return memo.revision
        const op = "apply" as const
        const where = `${k.kind} ${d.namespace}/${d.name}`
        const obj = yield* k.read(op, target.id, d)
        if (obj === undefined) return yield* permanent(op, target.id, `${where} not found`)
        const annotations = obj.metadata?.annotations ?? {}
        const owner = yield* refuseOtherRollout(
          op,
          target.id,
          k.kind,
          obj,
          rolloutId,
          "finish or roll back that one first"
        )
        const template = obj.spec?.template
        if (template === undefined) return yield* permanent(op, target.id, `the ${k.kind} has no pod template`)
        const first = owner !== rolloutId
        if (first || !k.drivable(obj) || !isRendered(template, artifact, d)) {
          const rendered = renderTemplate(template, artifact, d)
          if (rendered.missing !== undefined) return yield* permanent(op, target.id, rendered.missing)
          yield* createConfigMap(kube, op, target.id, d, artifact)
          // Recorded before anything changes, and only once: a later preparation (the template was
          // changed under the rollout) keeps what the first one recorded.
          const record = first
            ? {
                [ANNOTATION.rollout]: rolloutId,
                [ANNOTATION.originalRevision]:
                  annotations[ANNOTATION.originalRevision] ?? (yield* k.currentRevision(op, target.id, d)),
                [ANNOTATION.updateStrategy]:
                  annotations[ANNOTATION.updateStrategy] ??
                  JSON.stringify(obj.spec?.updateStrategy ?? { type: "RollingUpdate" }),
                [ANNOTATION.held]: null,
                ...k.recordAnnotations(obj)
              }
            : {}
          const patched = yield* k.patch(
            op,
            target.id,
            d,
            {
              metadata: { resourceVersion: obj.metadata?.resourceVersion, annotations: record },
              spec: { ...k.prepareSpec(obj, first), template: rendered.template }
            },
            mergePatch
          )
          yield* k.observed(op, target.id, d, patched.metadata?.generation ?? 0)
        }
        const revision = yield* k.currentRevision(op, target.id, d)
        prepared.set(key, { rolloutId, artifact: JSON.stringify(artifact), revision })
        restored.delete(key)
        return revision
      })
    )

  /**
   * Puts back the template the workload ran before the rollout, exactly, from its
   * ControllerRevision (whose data is a strategic merge patch of the template with `$patch:
   * replace`, as `kubectl rollout undo` applies it), together with what the kind restores besides
   * (a StatefulSet's partition), in one patch with the resourceVersion it was computed from.
   * Idempotent. Returns the revision updated pods must carry to count as rolled back.
   */
  const ensureRestored = (target: Target, d: TargetData, revision: Revision, rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = restored.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId) return memo.revision
        const op = "rollback" as const
        const where = `${k.kind} ${d.namespace}/${d.name}`
        const obj = yield* k.read(op, target.id, d)
        if (obj === undefined) return yield* permanent(op, target.id, `${where} not found`)
        yield* refuseOtherRollout(op, target.id, k.kind, obj, rolloutId, `not rolling it back for ${rolloutId}`)
        const want = obj.metadata?.annotations?.[ANNOTATION.originalRevision] ?? k.previousRevision(revision)
        if (want === undefined) return yield* permanent(op, target.id, "no previous ControllerRevision recorded")
        let current = yield* k.currentRevision(op, target.id, d)
        const spec = k.restoreSpec(obj)
        if (current !== want || spec !== undefined) {
          let body: Record<string, unknown> = { spec: spec ?? {} }
          if (current !== want) {
            const cr = (yield* revisionsOf(kube, op, target.id, obj, d)).find((r) => k.revisionId(r) === want)
            if (cr === undefined)
              return yield* permanent(
                op,
                target.id,
                `the ControllerRevision ${want} the ${k.kind} ran before is gone (revisionHistoryLimit?); cannot restore its template exactly`
              )
            const data = (cr.data ?? {}) as { spec?: object }
            body = { ...data, spec: { ...(data.spec ?? {}), ...(spec ?? {}) } }
          }
          const patched = yield* k.patch(
            op,
            target.id,
            d,
            { ...body, metadata: { resourceVersion: obj.metadata?.resourceVersion } },
            strategicMergePatch
          )
          yield* k.observed(op, target.id, d, patched.metadata?.generation ?? 0)
          current = yield* k.currentRevision(op, target.id, d)
        }
        restored.set(key, { rolloutId, revision: current })
        prepared.delete(key)
        return current
      })
    )

  /** The annotation patch conclude sends: the rollout's annotations off (released), or why it holds. */
  const concludeAnnotations = (obj: T, held: string | undefined) => ({
    resourceVersion: obj.metadata?.resourceVersion,
    annotations:
      held === undefined
        ? {
            [ANNOTATION.rollout]: null,
            [ANNOTATION.updateStrategy]: null,
            [ANNOTATION.originalRevision]: null,
            [ANNOTATION.originalPartition]: null,
            [ANNOTATION.held]: null
          }
        : { [ANNOTATION.held]: held }
  })

  /** Forgets what this process prepared or restored for a workload (its rollout concluded). */
  const forget = (d: TargetData) => {
    prepared.delete(workloadKey(d))
    restored.delete(workloadKey(d))
  }

  return { ensurePrepared, ensureRestored, concludeAnnotations, forget, lockOf }
}
