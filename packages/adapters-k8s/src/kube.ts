import type {
  V1ControllerRevision,
  V1DaemonSet,
  V1Deployment,
  V1LabelSelector,
  V1Node,
  V1Pod,
  V1StatefulSet
} from "@kubernetes/client-node"
import { Effect } from "effect"
import { type ObjectList, WatchCache } from "./cache.js"
import type { KubeClients } from "./client.js"
import { type Operation, type Request, statusCode, toAdapterError, transient } from "./errors.js"

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

export const isTerminating = (pod: V1Pod) => pod.metadata?.deletionTimestamp !== undefined

/**
 * The adapter's connection and its watch-fed caches, created on first use and kept for the life of
 * the adapter (the layer's scope stops them): nodes, pods per workload selector, and the workloads
 * and ControllerRevisions per namespace.
 */
export class Kube {
  private readonly caches = new Map<string, WatchCache<never>>()

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
