/**
 * DaemonSet node waves, the agent case. A target is one (DaemonSet, node) pair labelled with the
 * node's labels, so a topology key like `topology.kubernetes.io/zone` makes zone-by-zone waves.
 *
 * While Sluice drives it, the DaemonSet runs `OnDelete` with its template set to the new revision
 * once; a wave deletes the old pod on each of its nodes and the DaemonSet controller creates the
 * new one there. Rollback puts the old template back from its ControllerRevision (exactly, as
 * `kubectl rollout undo` does) and replaces the pods that were updated. The DaemonSet's own update
 * strategy comes back when the rollout concludes. Health is read from watch-fed caches.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type V1ControllerRevision,
  type V1DaemonSet,
  type V1Pod
} from "@kubernetes/client-node"
import type { AdapterError, HealthReport, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION, REVISION_HASH_LABEL } from "./annotations.js"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { kubeCall, kubeCallAllowing, kubeCallOptional, type Operation, permanent, transient } from "./errors.js"
import { isTerminating, type Kube, ownedBy, selectorString } from "./kube.js"
import { configMapFor, CONFIG_HASH_ANNOTATION, isRendered, renderTemplate } from "./template.js"
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

/** `Revision.data` of a DaemonSet target: the ControllerRevision its pod was made from. */
export interface DaemonSetRevisionData {
  readonly v: 1
  readonly kind: "DaemonSet"
  readonly hash: string
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

/** How long one health call waits for the watch to say something changed before answering "progressing". */
const HEALTH_WAIT_MS = 5000

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

const hashOf = (pod: V1Pod | undefined) => pod?.metadata?.labels?.[REVISION_HASH_LABEL]

export const makeDaemonSetDriver = (kube: Kube): Driver => {
  const { apps, core } = kube.clients
  const workloadApi: WorkloadApi<V1DaemonSet> = {
    resource: "daemonsets",
    read: (name, namespace) => apps.readNamespacedDaemonSet({ name, namespace }),
    list: (namespace, labelSelector) => apps.listNamespacedDaemonSet({ namespace, labelSelector }),
    listAll: (labelSelector) => apps.listDaemonSetForAllNamespaces({ labelSelector })
  }
  const lockOf = keyedLocks()
  /** Per DaemonSet: what this process already prepared for a rollout, so later targets skip the GET. */
  const prepared = new Map<string, { rolloutId: string; artifact: string; hash: string }>()
  const restored = new Map<string, { rolloutId: string; hash: string }>()
  /** Per DaemonSet uid + generation: its current ControllerRevision hash. */
  const revisionMemo = new Map<string, string>()

  const dsRequest = (d: TargetData, verb: "get" | "patch" | "list") =>
    ({ verb, resource: "daemonsets", namespace: d.namespace, name: d.name }) as const

  const readDaemonSet = (op: Operation, target: string | undefined, d: TargetData) =>
    kubeCallOptional(op, target, dsRequest(d, "get"), () =>
      apps.readNamespacedDaemonSet({ name: d.name, namespace: d.namespace })
    )

  const podsCache = (op: Operation, target: string | undefined, ds: V1DaemonSet) =>
    kube.synced(op, target, kube.pods(ds.metadata?.namespace ?? "", selectorString(ds.spec?.selector)))

  /** The DaemonSet from the watch cache (the first call lists and watches its namespace). */
  const cachedDaemonSet = (op: Operation, target: string | undefined, d: TargetData) =>
    Effect.gen(function* () {
      const cache = yield* kube.synced(op, target, kube.daemonSets(d.namespace))
      return cache.get(d.name, d.namespace)
    })

  /** Waits until the DaemonSet controller has seen `generation` (read from the cache: no requests). */
  const observed = (op: Operation, target: string | undefined, d: TargetData, generation: number) =>
    Effect.gen(function* () {
      const deadline = Date.now() + kube.observeTimeoutMs
      while (true) {
        const ds = yield* cachedDaemonSet(op, target, d)
        if (ds === undefined) return yield* permanent(op, target, `DaemonSet ${d.namespace}/${d.name} was deleted`)
        if ((ds.status?.observedGeneration ?? 0) >= generation && (ds.metadata?.generation ?? 0) >= generation)
          return ds
        if (Date.now() > deadline)
          return yield* transient(
            op,
            target,
            `the DaemonSet controller has not observed ${d.namespace}/${d.name} generation ${generation} (is kube-controller-manager running?)`
          )
        yield* Effect.sleep(50)
      }
    })

  const revisionsOf = (op: Operation, target: string | undefined, ds: V1DaemonSet, d: TargetData) =>
    kubeCall(op, target, { verb: "list", resource: "controllerrevisions", namespace: d.namespace }, () =>
      apps.listNamespacedControllerRevision({
        namespace: d.namespace,
        labelSelector: selectorString(ds.spec?.selector)
      })
    ).pipe(Effect.map((list) => ownedBy(list.items, ds.metadata?.uid ?? "")))

  const newest = (revisions: ReadonlyArray<V1ControllerRevision>) =>
    revisions.reduce<V1ControllerRevision | undefined>(
      (a, b) => (a === undefined || b.revision > a.revision ? b : a),
      undefined
    )

  /**
   * The hash of the DaemonSet's current ControllerRevision (the newest one, once the controller has
   * observed the current generation): what an updated pod's `controller-revision-hash` is.
   */
  const currentHash = (op: Operation, target: string | undefined, d: TargetData) =>
    Effect.gen(function* () {
      const cached = yield* cachedDaemonSet(op, target, d)
      if (cached === undefined) return yield* permanent(op, target, `DaemonSet ${d.namespace}/${d.name} not found`)
      const generation = cached.metadata?.generation ?? 0
      const key = `${cached.metadata?.uid}/${generation}`
      const memo = revisionMemo.get(key)
      if (memo !== undefined) return memo
      const ds = yield* observed(op, target, d, generation)
      const cr = newest(yield* revisionsOf(op, target, ds, d))
      const hash = cr?.metadata?.labels?.[REVISION_HASH_LABEL]
      if (hash === undefined)
        return yield* transient(op, target, `DaemonSet ${d.namespace}/${d.name} has no ControllerRevision yet`)
      revisionMemo.set(key, hash)
      return hash
    })

  /** The live (not terminating) pod of the DaemonSet on a node, from the cache. */
  const podOn = (op: Operation, target: string | undefined, ds: V1DaemonSet, node: string) =>
    Effect.map(podsCache(op, target, ds), (pods) =>
      ownedBy(pods.byIndex(node), ds.metadata?.uid ?? "").find((p) => !isTerminating(p))
    )

  const deleteOwnedPod = (op: Operation, target: string, pod: V1Pod) => deletePod(kube, op, target, pod)

  /**
   * Switches the DaemonSet to OnDelete with the new template, once per rollout (idempotent: a
   * second call, or one after a crash, finds it done). Returns the new revision's hash.
   */
  const ensurePrepared = (target: Target, d: TargetData, artifact: Parameters<Driver["apply"]>[2], rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = prepared.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId && memo.artifact === JSON.stringify(artifact))
          return memo.hash
        const op = "apply" as const
        const ds = yield* readDaemonSet(op, target.id, d)
        if (ds === undefined) return yield* permanent(op, target.id, `DaemonSet ${d.namespace}/${d.name} not found`)
        const annotations = ds.metadata?.annotations ?? {}
        const owner = yield* refuseOtherRollout(
          op,
          target.id,
          "DaemonSet",
          ds,
          rolloutId,
          `finish or roll back that one first`
        )
        const template = ds.spec?.template
        if (template === undefined) return yield* permanent(op, target.id, "the DaemonSet has no pod template")
        const done =
          owner === rolloutId && ds.spec?.updateStrategy?.type === "OnDelete" && isRendered(template, artifact, d)
        if (!done) {
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
          // What the rollout must restore is recorded before anything changes, and only once.
          const originalHash = annotations[ANNOTATION.originalRevision] ?? (yield* currentHash(op, target.id, d))
          const patched = yield* kubeCall(op, target.id, dsRequest(d, "patch"), () =>
            apps.patchNamespacedDaemonSet(
              {
                name: d.name,
                namespace: d.namespace,
                fieldManager: kube.fieldManager,
                body: {
                  metadata: {
                    // Optimistic concurrency: a concurrent writer makes this a 409, which is retried.
                    resourceVersion: ds.metadata?.resourceVersion,
                    annotations: {
                      [ANNOTATION.rollout]: rolloutId,
                      [ANNOTATION.originalRevision]: originalHash,
                      [ANNOTATION.updateStrategy]:
                        annotations[ANNOTATION.updateStrategy] ??
                        JSON.stringify(ds.spec?.updateStrategy ?? { type: "RollingUpdate" }),
                      [ANNOTATION.held]: null
                    }
                  },
                  spec: { updateStrategy: { type: "OnDelete", rollingUpdate: null }, template: rendered.template }
                }
              },
              mergePatch
            )
          )
          yield* observed(op, target.id, d, patched.metadata?.generation ?? 0)
        }
        const hash = yield* currentHash(op, target.id, d)
        prepared.set(key, { rolloutId, artifact: JSON.stringify(artifact), hash })
        restored.delete(key)
        return hash
      })
    )

  /**
   * Puts the template the DaemonSet ran before the rollout back, from its ControllerRevision
   * (idempotent). Returns the hash pods must have to count as rolled back.
   */
  const ensureRestored = (target: Target, d: TargetData, revision: Revision, rolloutId: string) =>
    lockOf(workloadKey(d)).withPermit(
      Effect.gen(function* () {
        const key = workloadKey(d)
        const memo = restored.get(key)
        if (memo !== undefined && memo.rolloutId === rolloutId) return memo.hash
        const op = "rollback" as const
        const ds = yield* readDaemonSet(op, target.id, d)
        if (ds === undefined) return yield* permanent(op, target.id, `DaemonSet ${d.namespace}/${d.name} not found`)
        const annotations = ds.metadata?.annotations ?? {}
        yield* refuseOtherRollout(op, target.id, "DaemonSet", ds, rolloutId, `not rolling it back for ${rolloutId}`)
        const previous = (revision.data as Partial<DaemonSetRevisionData> | undefined)?.hash
        const want = annotations[ANNOTATION.originalRevision] ?? previous
        if (want === undefined) return yield* permanent(op, target.id, "no previous ControllerRevision recorded")
        let hash = yield* currentHash(op, target.id, d)
        if (hash !== want) {
          const cr = (yield* revisionsOf(op, target.id, ds, d)).find(
            (r) => r.metadata?.labels?.[REVISION_HASH_LABEL] === want
          )
          if (cr === undefined)
            return yield* permanent(
              op,
              target.id,
              `the ControllerRevision ${d.name}-${want} the DaemonSet ran before is gone (revisionHistoryLimit?); cannot restore its template exactly`
            )
          // The revision's data is a strategic merge patch of the template (`$patch: replace`).
          const patched = yield* kubeCall(op, target.id, dsRequest(d, "patch"), () =>
            apps.patchNamespacedDaemonSet(
              {
                name: d.name,
                namespace: d.namespace,
                fieldManager: kube.fieldManager,
                body: { ...(cr.data as object), metadata: { resourceVersion: ds.metadata?.resourceVersion } }
              },
              strategicMergePatch
            )
          )
          yield* observed(op, target.id, d, patched.metadata?.generation ?? 0)
          hash = yield* currentHash(op, target.id, d)
        }
        restored.set(key, { rolloutId, hash })
        prepared.delete(key)
        return hash
      })
    )

  const discover = (selector: KubernetesSelector) =>
    Effect.gen(function* () {
      const op = "discover" as const
      const found = yield* findWorkloads(workloadApi, selector)
      const nodes = yield* kube.synced(op, undefined, kube.nodes())
      const targets: Array<Target> = []
      for (const ds of found) {
        const namespace = ds.metadata?.namespace ?? ""
        const name = ds.metadata?.name ?? ""
        const pods = yield* podsCache(op, undefined, ds)
        const nodeNames = new Set(
          ownedBy(pods.list(namespace), ds.metadata?.uid ?? "")
            .filter((p) => !isTerminating(p) && p.spec?.nodeName !== undefined)
            .map((p) => p.spec?.nodeName ?? "")
        )
        for (const node of [...nodeNames].sort()) {
          const labels = nodes.get(node)?.metadata?.labels ?? {}
          if (
            selector.nodeSelector !== undefined &&
            !Object.entries(selector.nodeSelector).every(([k, v]) => labels[k] === v)
          )
            continue
          const data: TargetData = {
            v: 1,
            kind: "DaemonSet",
            namespace,
            name,
            node,
            ...(selector.container === undefined ? {} : { container: selector.container }),
            ...(selector.configVolume === undefined ? {} : { configVolume: selector.configVolume })
          }
          targets.push({ id: targetId(data), name: `${name}/${node}`, labels: { ...labels }, data })
        }
      }
      return targets
    })

  const inspect = (target: Target, d: TargetData) =>
    Effect.gen(function* () {
      const op = "inspect" as const
      const ds = (yield* cachedDaemonSet(op, target.id, d)) ?? (yield* readDaemonSet(op, target.id, d))
      if (ds === undefined) return yield* permanent(op, target.id, `DaemonSet ${d.namespace}/${d.name} not found`)
      const pod = yield* podOn(op, target.id, ds, d.node ?? "")
      const containers = pod?.spec?.containers ?? ds.spec?.template.spec?.containers ?? []
      const hash = hashOf(pod) ?? (yield* currentHash(op, target.id, d))
      const configHash = (pod ?? ds.spec?.template)?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION]
      const data: DaemonSetRevisionData = { v: 1, kind: "DaemonSet", hash }
      return targetState("DaemonSet", target, ds, {
        containers: containers,
        ...(d.container === undefined ? {} : { container: d.container }),
        ...(configHash === undefined ? {} : { configHash }),
        data
      })
    })

  const render = renderPolicyView("DaemonSet")

  const apply: Driver["apply"] = (target, d, artifact, ctx) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const hash = yield* ensurePrepared(target, d, artifact, ctx.rolloutId)
      const ds = yield* cachedDaemonSet(op, target.id, d)
      const revision: Revision = { image: artifact.image.raw, data: { v: 1, kind: "DaemonSet", hash } }
      if (ds === undefined) return yield* permanent(op, target.id, `DaemonSet ${d.namespace}/${d.name} was deleted`)
      const nodes = yield* kube.synced(op, target.id, kube.nodes())
      const pod = yield* podOn(op, target.id, ds, d.node ?? "")
      // No pod (the controller is creating it) or no node (it left): nothing to delete; a new pod
      // gets the new template.
      if (pod !== undefined && hashOf(pod) !== hash && nodes.get(d.node ?? "") !== undefined)
        yield* deleteOwnedPod(op, target.id, pod)
      return revision
    })

  /**
   * Health, answered from the caches. While the pod is progressing it waits (up to five seconds) for
   * the next change the watch delivers and looks again, so a wave ends when its last pod turns Ready,
   * not at the interpreter's next poll.
   */
  const health = (target: Target, d: TargetData) =>
    Effect.gen(function* () {
      const until = Date.now() + HEALTH_WAIT_MS
      while (true) {
        const ds = yield* cachedDaemonSet("health", target.id, d)
        const pods = ds === undefined ? undefined : yield* podsCache("health", target.id, ds)
        const node = d.node ?? ""
        const seen = pods?.keyVersion(node) ?? 0
        const report = yield* healthOnce(target, d)
        const left = until - Date.now()
        if (report.status !== "progressing" || pods === undefined || left <= 0) return report
        yield* Effect.promise(() => pods.changedSince(node, seen, left))
      }
    })

  const healthOnce = Effect.fnUntraced(function* (
    target: Target,
    d: TargetData
  ): Effect.fn.Return<HealthReport, AdapterError> {
    const op = "health" as const
    const ds = yield* cachedDaemonSet(op, target.id, d)
    if (ds === undefined) return { status: "unhealthy", reason: `DaemonSet ${d.namespace}/${d.name} was deleted` }
    const node = d.node ?? ""
    const nodes = yield* kube.synced(op, target.id, kube.nodes())
    const hash = yield* currentHash(op, target.id, d)
    // A node that left is done: there is nothing of this DaemonSet left to update on it.
    if (nodes.get(node) === undefined)
      return { status: "healthy", reason: `node ${node} left the cluster: nothing to update there` }
    const pod = yield* podOn(op, target.id, ds, node)
    if (pod === undefined)
      return { status: "progressing", reason: `waiting for the DaemonSet controller to create the pod on ${node}` }
    if (hashOf(pod) !== hash)
      return { status: "progressing", reason: `pod ${pod.metadata?.name} still runs revision ${hashOf(pod)}` }
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
      reason: `pod ${pod.metadata?.name} on ${node} not ready${notReady?.message === undefined ? "" : `: ${notReady.message}`}`
    }
  })

  const rollback: Driver["rollback"] = (target, d, revision, ctx) =>
    Effect.gen(function* () {
      const op = "rollback" as const
      const hash = yield* ensureRestored(target, d, revision, ctx?.rolloutId ?? "")
      const ds = yield* cachedDaemonSet(op, target.id, d)
      if (ds === undefined) return yield* permanent(op, target.id, `DaemonSet ${d.namespace}/${d.name} was deleted`)
      const pod = yield* podOn(op, target.id, ds, d.node ?? "")
      if (pod !== undefined && hashOf(pod) !== hash) yield* deleteOwnedPod(op, target.id, pod)
    })

  /**
   * The DaemonSet gets its own update strategy back, except when that would make its controller
   * roll nodes the rollout was told to leave alone (aborted or failed without rollback, a rollback
   * that could not restore every node, a `nodeSelector` that left nodes out): then it stays
   * `OnDelete`, annotated with why, and the note says how to finish.
   */
  const conclude: Driver["conclude"] = (ctx, workloads) =>
    Effect.gen(function* () {
      const op = "conclude" as const
      const notes: Array<string> = []
      for (const d of workloads) {
        const where = `DaemonSet ${d.namespace}/${d.name}`
        const ds = yield* readDaemonSet(op, undefined, d)
        if (ds === undefined) {
          notes.push(`${where} no longer exists`)
          continue
        }
        const annotations = ds.metadata?.annotations ?? {}
        if (annotations[ANNOTATION.rollout] !== ctx.rolloutId) continue
        const hash = yield* currentHash(op, undefined, d)
        const pods = yield* podsCache(op, undefined, ds)
        const nodes = yield* kube.synced(op, undefined, kube.nodes())
        // Pods left on nodes that are gone are the pod garbage collector's, not a mixed fleet.
        let stale = ownedBy(pods.list(d.namespace), ds.metadata?.uid ?? "").filter(
          (p) => !isTerminating(p) && hashOf(p) !== hash && nodes.get(p.spec?.nodeName ?? "") !== undefined
        )
        if (ctx.outcome === "rolledBack" && stale.length > 0) {
          // Nodes that joined during the rollout got the new template from the controller; a
          // rollback puts them back too.
          for (const pod of stale) yield* deleteOwnedPod(op, pod.spec?.nodeName ?? "", pod)
          notes.push(
            `${where}: ${stale.length} pod(s) on nodes outside the plan (joined during the rollout) replaced with the restored revision`
          )
          stale = []
        }
        const original = JSON.parse(annotations[ANNOTATION.updateStrategy] ?? '{"type":"RollingUpdate"}') as {
          type?: string
        }
        const safe = original.type === "OnDelete" || stale.length === 0
        const body = safe
          ? {
              metadata: {
                resourceVersion: ds.metadata?.resourceVersion,
                annotations: {
                  [ANNOTATION.rollout]: null,
                  [ANNOTATION.updateStrategy]: null,
                  [ANNOTATION.originalRevision]: null,
                  [ANNOTATION.held]: null
                }
              },
              spec: {
                updateStrategy: { ...original, ...(original.type === "OnDelete" ? { rollingUpdate: null } : {}) }
              }
            }
          : {
              metadata: {
                resourceVersion: ds.metadata?.resourceVersion,
                annotations: {
                  [ANNOTATION.held]: `${stale.length} pod(s) still on the previous revision after ${ctx.outcome}`
                }
              }
            }
        yield* kubeCall(op, undefined, dsRequest(d, "patch"), () =>
          apps.patchNamespacedDaemonSet(
            { name: d.name, namespace: d.namespace, fieldManager: kube.fieldManager, body },
            mergePatch
          )
        )
        notes.push(
          safe
            ? `${where}: update strategy ${original.type ?? "RollingUpdate"} restored`
            : `${where} left on OnDelete: ${stale.length} pod(s) still run the previous revision (outcome ${ctx.outcome}); \`sluice rollback ${ctx.rolloutId}\` restores them, or set its updateStrategy back to let the DaemonSet controller finish the update`
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
    conclude
  }
}
