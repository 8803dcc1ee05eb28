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
import type { V1ControllerRevision, V1DaemonSet, V1Pod } from "@kubernetes/client-node"
import type { AdapterError, HealthReport, Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { ANNOTATION, REVISION_HASH_LABEL } from "./annotations.js"
import { WaitRace } from "./cache.js"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { type Operation, permanent, transient } from "./errors.js"
import { isTerminating, type Kube, ownedBy } from "./kube.js"
import { makeRevisioned, objectCalls, podHealth, revisionsOf, waitObserved } from "./revisioned.js"
import { CONFIG_HASH_ANNOTATION } from "./template.js"
import { deletePod, findWorkloads, renderPolicyView, targetState, type WorkloadApi } from "./workloads.js"
import { type TargetData, targetId } from "./targets.js"

/** `Revision.data` of a DaemonSet target: the ControllerRevision its pod was made from. */
export interface DaemonSetRevisionData {
  readonly v: 1
  readonly kind: "DaemonSet"
  readonly hash: string
}

/**
 * How long one health call waits on the watch for its pod to be decided before answering
 * "progressing". Long on purpose: after a "progressing" answer the interpreter sleeps its poll
 * interval (1 s by default) before asking again, so a pod that turns Ready in that sleep is seen up
 * to a poll interval late, and the slowest pod of a wave decides when the wave ends (with a 5 s wait,
 * every pod slower than 5 s cost its wave up to a second). Well under the interpreter's per-call
 * timeout (120 s by default); a change of the pod or of its node ends the wait at once.
 */
const HEALTH_WAIT_MS = 30_000

const hashOf = (pod: V1Pod | undefined) => pod?.metadata?.labels?.[REVISION_HASH_LABEL]

export const makeDaemonSetDriver = (kube: Kube): Driver => {
  const { apps } = kube.clients
  const workloadApi: WorkloadApi<V1DaemonSet> = {
    resource: "daemonsets",
    read: (name, namespace) => apps.readNamespacedDaemonSet({ name, namespace }),
    list: (namespace, labelSelector) => apps.listNamespacedDaemonSet({ namespace, labelSelector }),
    listAll: (labelSelector) => apps.listDaemonSetForAllNamespaces({ labelSelector })
  }
  /** Per DaemonSet uid + generation: its current ControllerRevision hash. */
  const revisionMemo = new Map<string, string>()

  const {
    read: readDaemonSet,
    patch: patchDaemonSet,
    cached: cachedDaemonSet,
    pods: podsCache
  } = objectCalls(kube, "daemonsets", {
    cache: (namespace) => kube.daemonSets(namespace),
    read: (name, namespace) => apps.readNamespacedDaemonSet({ name, namespace }),
    patch: (args, options) => apps.patchNamespacedDaemonSet(args, options)
  })

  /** Waits until the DaemonSet controller has seen `generation` (read from the cache: no requests). */
  const observed = (op: Operation, target: string | undefined, d: TargetData, generation: number) =>
    waitObserved(
      kube,
      op,
      target,
      `DaemonSet ${d.namespace}/${d.name} generation ${generation}`,
      cachedDaemonSet(op, target, d),
      (ds) => (ds.status?.observedGeneration ?? 0) >= generation && (ds.metadata?.generation ?? 0) >= generation
    )

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
      const cr = newest(yield* revisionsOf(kube, op, target, ds, d))
      const hash = cr?.metadata?.labels?.[REVISION_HASH_LABEL]
      if (hash === undefined)
        return yield* transient(op, target, `DaemonSet ${d.namespace}/${d.name} has no ControllerRevision yet`)
      revisionMemo.set(key, hash)
      return hash
    })

  /**
   * While Sluice drives it the DaemonSet runs OnDelete (its pods are replaced by the waves' deletes
   * only); its template comes back from the ControllerRevision named by its hash.
   */
  const revisioned = makeRevisioned<V1DaemonSet>(kube, {
    kind: "DaemonSet",
    read: readDaemonSet,
    patch: patchDaemonSet,
    observed,
    currentRevision: currentHash,
    revisionId: (cr) => cr.metadata?.labels?.[REVISION_HASH_LABEL],
    previousRevision: (revision) => (revision.data as Partial<DaemonSetRevisionData> | undefined)?.hash,
    drivable: (ds) => ds.spec?.updateStrategy?.type === "OnDelete",
    prepareSpec: () => ({ updateStrategy: { type: "OnDelete", rollingUpdate: null } }),
    recordAnnotations: () => ({}),
    restoreSpec: () => undefined
  })

  /** The live (not terminating) pod of the DaemonSet on a node, from the cache. */
  const podOn = (op: Operation, target: string | undefined, ds: V1DaemonSet, node: string) =>
    Effect.map(podsCache(op, target, ds), (pods) =>
      ownedBy(pods.byIndex(node), ds.metadata?.uid ?? "").find((p) => !isTerminating(p))
    )

  const deleteOwnedPod = (op: Operation, target: string, pod: V1Pod) => deletePod(kube, op, target, pod)

  const discover = (selector: KubernetesSelector) =>
    Effect.gen(function* () {
      const op = "discover" as const
      // The node list does not wait for the DaemonSets, nor one DaemonSet's pod list for another's.
      const [found, nodes] = yield* Effect.all(
        [findWorkloads(workloadApi, selector), kube.synced(op, undefined, kube.nodes())],
        { concurrency: 2 }
      )
      const podCaches = yield* Effect.forEach(found, (ds) => podsCache(op, undefined, ds), {
        concurrency: "unbounded"
      })
      const targets: Array<Target> = []
      for (const [i, ds] of found.entries()) {
        const namespace = ds.metadata?.namespace ?? ""
        const name = ds.metadata?.name ?? ""
        const pods = podCaches[i]!
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

  const render = renderPolicyView("DaemonSet", kube)

  const apply: Driver["apply"] = (target, d, artifact, ctx) =>
    Effect.gen(function* () {
      const op = "apply" as const
      const hash = yield* revisioned.ensurePrepared(target, d, artifact, ctx.rolloutId)
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
   * Health, answered from the caches. While the pod is progressing it waits (up to
   * {@link HEALTH_WAIT_MS}) for the next change the watch delivers for its node (the pod there, or
   * the node itself leaving) and looks again, so a wave ends when its last pod turns Ready, not at
   * the interpreter's next poll.
   */
  const health = (target: Target, d: TargetData) =>
    Effect.gen(function* () {
      const until = Date.now() + HEALTH_WAIT_MS
      while (true) {
        const ds = yield* cachedDaemonSet("health", target.id, d)
        const pods = ds === undefined ? undefined : yield* podsCache("health", target.id, ds)
        const nodes = yield* kube.synced("health", target.id, kube.nodes())
        const node = d.node ?? ""
        const seenPod = pods?.keyVersion(node) ?? 0
        const seenNode = nodes.keyVersion(node)
        const report = yield* healthOnce(target, d)
        const left = until - Date.now()
        if (report.status !== "progressing" || pods === undefined || left <= 0) return report
        yield* Effect.promise(async () => {
          const race = new WaitRace()
          await Promise.race([
            pods.changedSince(node, seenPod, left, race),
            nodes.changedSince(node, seenNode, left, race)
          ])
          race.end()
        })
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
    return podHealth(pod, ` on ${node}`)
  })

  const rollback: Driver["rollback"] = (target, d, revision, ctx) =>
    Effect.gen(function* () {
      const op = "rollback" as const
      const hash = yield* revisioned.ensureRestored(target, d, revision, ctx?.rolloutId ?? "")
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
        const metadata = revisioned.concludeAnnotations(
          ds,
          safe ? undefined : `${stale.length} pod(s) still on the previous revision after ${ctx.outcome}`
        )
        const body = safe
          ? {
              metadata,
              spec: {
                updateStrategy: { ...original, ...(original.type === "OnDelete" ? { rollingUpdate: null } : {}) }
              }
            }
          : { metadata }
        yield* patchDaemonSet(op, undefined, d, body)
        notes.push(
          safe
            ? `${where}: update strategy ${original.type ?? "RollingUpdate"} restored`
            : `${where} left on OnDelete: ${stale.length} pod(s) still run the previous revision (outcome ${ctx.outcome}); \`sluice rollback ${ctx.rolloutId}\` restores them, or set its updateStrategy back to let the DaemonSet controller finish the update`
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
    conclude
  }
}
