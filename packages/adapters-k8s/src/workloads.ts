/** What the three workload drivers share: finding workloads, the policy view, rendering, per-workload locks. */
import type { V1Container, V1ObjectMeta, V1Pod, V1PodTemplateSpec } from "@kubernetes/client-node"
import type { Target, TargetState } from "@sluice/core"
import { Effect, Semaphore } from "effect"
import type { KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { ANNOTATION } from "./annotations.js"
import { kubeCall, kubeCallAllowing, kubeCallOptional, type Operation, permanent } from "./errors.js"
import { type Kube, labelSelectorOf } from "./kube.js"
import { currentImage, renderTemplate } from "./template.js"
import type { WorkloadKind } from "./targets.js"

/** A workload object as the API returns it (only what is shared is typed). */
export interface WorkloadObject {
  metadata?: V1ObjectMeta
  spec?: { template: V1PodTemplateSpec } & object
}

/** How to read and list one kind of workload. */
export interface WorkloadApi<T extends WorkloadObject> {
  readonly resource: "daemonsets" | "statefulsets" | "deployments"
  readonly read: (name: string, namespace: string) => Promise<T>
  readonly list: (namespace: string, labelSelector: string) => Promise<{ items: Array<T> }>
  readonly listAll: (labelSelector: string) => Promise<{ items: Array<T> }>
}

/** The workloads a selector names: one by name (none if it does not exist), or every one its labels match. */
export const findWorkloads = <T extends WorkloadObject>(api: WorkloadApi<T>, selector: KubernetesSelector) =>
  Effect.gen(function* () {
    const op = "discover" as const
    if (selector.name !== undefined) {
      const namespace = selector.namespace ?? "default"
      const name = selector.name
      const one = yield* kubeCallOptional(op, undefined, { verb: "get", resource: api.resource, namespace, name }, () =>
        api.read(name, namespace)
      )
      return one === undefined ? [] : [one]
    }
    const labelSelector = labelSelectorOf(selector.labelSelector ?? "")
    const namespace = selector.namespace
    const list = yield* kubeCall(
      op,
      undefined,
      { verb: "list", resource: api.resource, ...(namespace === undefined ? {} : { namespace }) },
      () => (namespace === undefined ? api.listAll(labelSelector) : api.list(namespace, labelSelector))
    )
    return list.items
  })

/** The workload as the policies see it: no status, no server bookkeeping (so equal workloads hash equal). */
export const policyView = <T extends WorkloadObject>(kind: WorkloadKind, obj: T) => ({
  apiVersion: "apps/v1",
  kind,
  metadata: {
    name: obj.metadata?.name,
    namespace: obj.metadata?.namespace,
    ...(obj.metadata?.labels === undefined ? {} : { labels: obj.metadata.labels })
  },
  spec: obj.spec
})

/**
 * The driver's `render`: the policy view with the new template, and the namespace its pods will run
 * in with its labels (read through the adapter's short-lived memo, once per namespace per gate
 * evaluation), so the gate holds the new version to the Pod Security level the namespace enforces.
 * Only `render` reads it: the gate evaluates what render returns, and `inspect` (also used outside
 * the gate, e.g. to tell what a target runs before a rollback) stays on the watch-fed caches.
 */
export const renderPolicyView =
  (kind: WorkloadKind, kube: Kube): Driver["render"] =>
  (state, artifact, d) =>
    Effect.gen(function* () {
      const object = (state.workload as { object: ReturnType<typeof policyView> }).object
      const template = object.spec?.template
      if (template === undefined) return yield* permanent("inspect", state.target.id, `the ${kind} has no pod template`)
      const rendered = renderTemplate(template, artifact, d)
      if (rendered.missing !== undefined) return yield* permanent("inspect", state.target.id, rendered.missing)
      const namespace = yield* kube.namespace(state.target.id, d.namespace)
      return {
        source: "kubernetes" as const,
        object: { ...object, spec: { ...object.spec, template: rendered.template } },
        namespace
      }
    })

/** One mutex per key (a workload), created on first use: a workload is prepared or restored once at a time. */
export const keyedLocks = () => {
  const locks = new Map<string, Semaphore.Semaphore>()
  return (key: string) => {
    let l = locks.get(key)
    if (l === undefined) {
      l = Semaphore.makeUnsafe(1)
      locks.set(key, l)
    }
    return l
  }
}

/**
 * Deletes exactly this pod (uid precondition): if it was already replaced, nothing is deleted. A 404
 * or a failed precondition (409) means it is gone or replaced: done.
 */
export const deletePod = (kube: Kube, op: Operation, target: string, pod: V1Pod) =>
  kubeCallAllowing(
    [404, 409],
    op,
    target,
    { verb: "delete", resource: "pods", namespace: pod.metadata?.namespace ?? "", name: pod.metadata?.name ?? "" },
    () =>
      kube.clients.core.deleteNamespacedPod({
        name: pod.metadata?.name ?? "",
        namespace: pod.metadata?.namespace ?? "",
        body: { preconditions: { uid: pod.metadata?.uid ?? "" } }
      })
  ).pipe(Effect.asVoid)

/** A workload another rollout is driving (its annotation names it) is refused, with that rollout's id. */
export const refuseOtherRollout = (
  op: Operation,
  target: string | undefined,
  kind: WorkloadKind,
  obj: WorkloadObject,
  rolloutId: string,
  doing: string
) => {
  const owner = obj.metadata?.annotations?.[ANNOTATION.rollout]
  return owner !== undefined && owner !== rolloutId
    ? Effect.fail(
        permanent(
          op,
          target,
          `${kind} ${obj.metadata?.namespace}/${obj.metadata?.name} is being driven by rollout ${owner}; ${doing}`
        )
      )
    : Effect.succeed(owner)
}

/** What `inspect` returns for every kind: the revision a target runs (restorable) and the policy view. */
export const targetState = <T extends WorkloadObject>(
  kind: WorkloadKind,
  target: Target,
  obj: T,
  running: { containers: ReadonlyArray<V1Container>; container?: string; configHash?: string; data: unknown }
): TargetState => ({
  target,
  revision: {
    image: currentImage(running.containers, running.container),
    ...(running.configHash === undefined ? {} : { configHash: running.configHash }),
    data: running.data
  },
  workload: { source: "kubernetes", object: policyView(kind, obj) }
})
