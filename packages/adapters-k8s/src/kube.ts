import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Deployment,
  V1LabelSelector,
  V1Node,
  V1Pod,
  V1StatefulSet
} from "@kubernetes/client-node"
import { AdapterError } from "@sluice/core"
import { Effect, Exit } from "effect"
import { type ObjectList, WatchCache } from "./cache.js"
import type { KubeClients } from "./client.js"
import { type Operation, permanent, type Request, statusCode, toAdapterError, transient } from "./errors.js"

/** `/apis/apps/v1/namespaces/x/daemonsets` → list daemonsets in namespace x (for RBAC messages). */
const requestOf = (path: string): Request => {
  const parts = path.split("/").filter((p) => p !== "")
  const ns = parts.indexOf("namespaces")
  return {
    verb: "list",
    resource: parts.at(-1) ?? path,
    ...(ns >= 0 && parts[ns + 1] !== undefined ? { namespace: parts[ns + 1] } : {})
  }
}

/** A label selector as the API's query string (`a=b,c in (d,e),!f`). */
export const selectorString = (s: V1LabelSelector | undefined): string => {
  const parts = Object.entries(s?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`)
  for (const e of s?.matchExpressions ?? []) {
    const values = (e.values ?? []).join(",")
    if (e.operator === "In") parts.push(`${e.key} in (${values})`)
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`)
    else if (e.operator === "Exists") parts.push(e.key)
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`)
  }
  return parts.join(",")
}

/** `{a: b}` or `"a=b"` (the spec's two forms) as the API's query string. */
export const labelSelectorOf = (s: string | Readonly<Record<string, string>>): string =>
  typeof s === "string"
    ? s
    : Object.entries(s)
        .map(([k, v]) => `${k}=${v}`)
        .join(",")

const isOwnedBy = (
  obj: { metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } },
  uid: string
) => obj.metadata?.ownerReferences?.some((o) => o.uid === uid && o.controller === true) ?? false

export const ownedBy = <T extends { metadata?: { ownerReferences?: Array<{ uid: string; controller?: boolean }> } }>(
  items: ReadonlyArray<T>,
  uid: string
) => items.filter((i) => isOwnedBy(i, uid))

/** A namespace as the policies see it (`WorkloadSource.namespace`, `input.kubernetes.namespace`). */
export interface NamespaceView {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

/**
 * How long one read of a namespace serves the policy view. The gate renders every target of a wave
 * (a DaemonSet over 1,000 nodes is 1,000 renders in one namespace) in one burst, from the watch-fed
 * workload caches, so a few seconds covers a whole gate evaluation with one GET per namespace; the
 * next wave's gate, seconds or minutes later, reads the labels again, so a namespace relabelled
 * during a rollout holds the following waves to its new level. Not a watch-fed cache like the
 * others: watching namespaces takes `list` + `watch` on every namespace of the cluster (their names
 * and labels, which a rollout confined to a few namespaces has no business reading), where a GET
 * needs only `get` on the namespaces the rollout targets (a RoleBinding in each one grants it).
 */
const NAMESPACE_TTL_MS = 5_000

export const isTerminating = (pod: V1Pod) => pod.metadata?.deletionTimestamp !== undefined

/**
 * The adapter's connection and its watch-fed caches, created on first use and kept for the life of
 * the adapter (the layer's scope stops them): nodes, pods per workload selector, and the workloads
 * and ControllerRevisions per namespace.
 */
export class Kube {
  private readonly caches = new Map<string, WatchCache<never>>()
  private readonly namespaceReads = new Map<string, Effect.Effect<NamespaceView, AdapterError>>()
  /** GET requests sent for namespaces (tests count them: one per namespace per gate evaluation). */
  namespaceGets = 0

  constructor(
    readonly clients: KubeClients,
    readonly fieldManager: string,
    readonly observeTimeoutMs: number
  ) {}

  private cache<T extends { metadata?: { namespace?: string; name?: string } }>(
    key: string,
    path: string,
    list: () => Promise<ObjectList<T>>,
    options: { labelSelector?: string; indexBy?: (o: T) => ReadonlyArray<string> } = {}
  ): WatchCache<T & { metadata?: object }> {
    let c = this.caches.get(key) as WatchCache<T & { metadata?: object }> | undefined
    if (c === undefined) {
      c = new WatchCache(this.clients.config, path, list as never, options as never)
      this.caches.set(key, c as never)
    }
    return c
  }

  /** Nodes, each filed under its own name (so a wait on a node wakes when it changes or leaves). */
  nodes() {
    return this.cache<V1Node>("nodes", "/api/v1/nodes", () => this.clients.core.listNode(), {
      indexBy: (n) => [n.metadata?.name ?? ""]
    })
  }

  /** Pods of one namespace matching a selector, indexed by node name. */
  pods(namespace: string, labelSelector: string) {
    return this.cache<V1Pod>(
      `pods|${namespace}|${labelSelector}`,
      `/api/v1/namespaces/${namespace}/pods`,
      () => this.clients.core.listNamespacedPod({ namespace, labelSelector }),
      {
        labelSelector,
        indexBy: (p) => (p.spec?.nodeName === undefined ? [] : [p.spec.nodeName])
      }
    )
  }

  daemonSets(namespace: string) {
    return this.cache<V1DaemonSet>(`ds|${namespace}`, `/apis/apps/v1/namespaces/${namespace}/daemonsets`, () =>
      this.clients.apps.listNamespacedDaemonSet({ namespace })
    )
  }

  statefulSets(namespace: string) {
    return this.cache<V1StatefulSet>(`sts|${namespace}`, `/apis/apps/v1/namespaces/${namespace}/statefulsets`, () =>
      this.clients.apps.listNamespacedStatefulSet({ namespace })
    )
  }

  deployments(namespace: string) {
    return this.cache<V1Deployment>(`deploy|${namespace}`, `/apis/apps/v1/namespaces/${namespace}/deployments`, () =>
      this.clients.apps.listNamespacedDeployment({ namespace })
    )
  }

  revisions(namespace: string, labelSelector: string) {
    return this.cache<V1ControllerRevision>(
      `cr|${namespace}|${labelSelector}`,
      `/apis/apps/v1/namespaces/${namespace}/controllerrevisions`,
      () => this.clients.apps.listNamespacedControllerRevision({ namespace, labelSelector }),
      { labelSelector }
    )
  }

  /**
   * The namespace the pods of a target run in, with its labels, for the policy gate (its
   * `pod-security.kubernetes.io/*` labels are the Pod Security level the apiserver will enforce on
   * the new pods). Concurrent callers share one GET, and its answer serves for {@link
   * NAMESPACE_TTL_MS}; a failure is not kept (the next call asks again), and a caller that is
   * interrupted (a timeout) does not cancel the read the others wait on. Fails closed: a namespace
   * that cannot be read is a permanent error, never a view without labels, so the gate cannot pass
   * a version the namespace's level would refuse because the adapter could not see the level.
   */
  namespace(target: string | undefined, name: string): Effect.Effect<NamespaceView, AdapterError> {
    let read = this.namespaceReads.get(name)
    if (read === undefined) {
      read = Effect.runSync(
        Effect.cachedWithTTL(this.readNamespace(name), (exit) => (Exit.isSuccess(exit) ? NAMESPACE_TTL_MS : 0))
      )
      this.namespaceReads.set(name, read)
    }
    // The shared read's error names no target (it is the namespace's); each caller's names its own.
    return Effect.mapError(read, (e) =>
      target === undefined || e.target !== undefined
        ? e
        : new AdapterError({ operation: e.operation, target, message: e.message, transient: e.transient })
    )
  }

  /** One GET of a namespace; its errors are `inspect`'s (the gate reads it while rendering). */
  private readNamespace(name: string) {
    const operation = "inspect" as const
    const request: Request = { verb: "get", resource: "namespaces", name }
    return Effect.suspend(() => {
      this.namespaceGets++
      return Effect.tryPromise({ try: () => this.clients.core.readNamespace({ name }), catch: (cause) => cause })
    }).pipe(
      Effect.mapError((cause) => {
        const code = statusCode(cause)
        if (code === 403) {
          const refused = toAdapterError(operation, undefined, request, cause)
          return permanent(
            operation,
            undefined,
            `${refused.message}. The adapter reads the namespace of every workload it rolls (its pod-security.kubernetes.io labels are the Pod Security level the policy gate holds the new version to) and does not pass a workload whose namespace it cannot read: grant "get" on "namespaces" (examples/k8s/rbac.yaml)`
          )
        }
        if (code === 404)
          return permanent(
            operation,
            undefined,
            `namespace ${name} not found (HTTP 404): the policy gate cannot read the Pod Security level of the namespace the workload's pods run in`
          )
        return toAdapterError(operation, undefined, request, cause)
      }),
      Effect.map((ns): NamespaceView => ({ name, labels: { ...ns.metadata?.labels } }))
    )
  }

  /** Starts a cache and waits for its first list (a transient error if the apiserver does not answer). */
  synced<T extends object>(
    operation: Operation,
    target: string | undefined,
    cache: WatchCache<T & { metadata?: object }>
  ) {
    return Effect.gen(function* () {
      if (cache.synced) return cache
      yield* Effect.promise(() => cache.start())
      for (let i = 0; i < 300 && !cache.synced; i++) {
        // A refused list/watch will not get better by waiting: say which permission is missing.
        const code = statusCode(cache.lastError)
        if (code === 401 || code === 403)
          return yield* toAdapterError(operation, target, requestOf(cache.path), cache.lastError)
        yield* Effect.sleep(100)
      }
      if (!cache.synced) {
        const why = cache.lastError instanceof Error ? cache.lastError.message : String(cache.lastError ?? "no answer")
        return yield* transient(operation, target, `cannot list+watch ${cache.path}: ${why}`)
      }
      return cache
    })
  }

  /** List and watch requests the caches sent (for the benchmark's per-node request count). */
  get cacheLists(): number {
    let n = 0
    for (const c of this.caches.values()) n += c.lists
    return n
  }

  async stop(): Promise<void> {
    await Promise.all([...this.caches.values()].map((c) => c.stop()))
    this.caches.clear()
  }
}
