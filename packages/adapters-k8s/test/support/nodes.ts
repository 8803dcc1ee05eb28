/**
 * Simulated nodes: plain Node objects that the kwok controller (started by the global setup with
 * --manage-all-nodes) brings to Ready and whose pods it runs (scripts/kube/stages/*.yaml).
 */
import type { CoreV1Api, V1Node } from "@kubernetes/client-node"
import { afterAll, beforeAll } from "vitest"
import { kube, uniqueSuffix } from "./cluster.js"
import { notYet, waitFor } from "./wait.js"

export const ZONE_LABEL = "topology.kubernetes.io/zone"
export const POOL_LABEL = "sluice.dev/pool"
export const KWOK_NODE_LABEL = "type"

export interface KwokNodeOptions {
  /** Zones assigned round-robin (label topology.kubernetes.io/zone). Default ["zone-a"]. */
  readonly zones?: readonly string[]
  /**
   * Pools assigned round-robin (label sluice.dev/pool). Default: one pool with a unique name, so
   * workloads can pin themselves to these nodes with a nodeSelector and not collide with other
   * test files sharing the cluster.
   */
  readonly pools?: readonly string[]
  /** Node name prefix (a unique suffix is added). Default "kwok". */
  readonly namePrefix?: string
  /** Extra labels for every node. */
  readonly labels?: Readonly<Record<string, string>>
  /** Wait until every node reports Ready (default true). */
  readonly waitReady?: boolean
  /** Creations in flight at once (default 10). */
  readonly concurrency?: number
  /** Another cluster's client (default: the shared test cluster's). */
  readonly core?: CoreV1Api
}

export interface KwokNodes {
  readonly names: readonly string[]
  readonly pools: readonly string[]
  readonly zones: readonly string[]
  /** `names` grouped by label value. */
  readonly byPool: ReadonlyMap<string, readonly string[]>
  readonly byZone: ReadonlyMap<string, readonly string[]>
  /** Deletes these nodes (their pods are then garbage-collected by the controller manager). */
  readonly delete: () => Promise<void>
}

async function inBatches<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<unknown>
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T
      await fn(item)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
}

const isReady = (node: V1Node): boolean =>
  node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** Creates `count` kwok nodes with zone and pool labels (round-robin) and, by default, waits until they are Ready. */
export async function createKwokNodes(count: number, options: KwokNodeOptions = {}): Promise<KwokNodes> {
  const suffix = uniqueSuffix()
  const zones = options.zones ?? ["zone-a"]
  const pools = options.pools ?? [`pool-${suffix}`]
  if (zones.length === 0 || pools.length === 0) throw new Error("zones and pools must not be empty")
  const prefix = options.namePrefix ?? "kwok"
  const specs = Array.from({ length: count }, (_, i) => ({
    name: `${prefix}-${suffix}-${String(i).padStart(3, "0")}`,
    zone: zones[i % zones.length] as string,
    pool: pools[i % pools.length] as string
  }))
  const core = options.core ?? kube().core
  await inBatches(specs, options.concurrency ?? 10, (s) =>
    core.createNode({
      body: {
        metadata: {
          name: s.name,
          labels: {
            ...options.labels,
            [ZONE_LABEL]: s.zone,
            [POOL_LABEL]: s.pool,
            [KWOK_NODE_LABEL]: "kwok",
            "kubernetes.io/hostname": s.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64"
          },
          annotations: { "kwok.x-k8s.io/node": "fake" }
        },
        spec: {}
      }
    })
  )
  const names = specs.map((s) => s.name)
  if (options.waitReady ?? true) {
    const wanted = new Set(names)
    await waitFor(
      `${count} kwok nodes to be Ready`,
      async () => {
        const list = await core.listNode()
        const ready = list.items.filter((n) => wanted.has(n.metadata?.name ?? "") && isReady(n)).length
        return ready === count ? ready : notYet({ ready, count })
      },
      { timeoutMs: 60_000 }
    )
  }
  const group = (key: "pool" | "zone") => {
    const map = new Map<string, string[]>()
    for (const s of specs) map.set(s[key], [...(map.get(s[key]) ?? []), s.name])
    return map
  }
  return {
    names,
    pools: [...pools],
    zones: [...zones],
    byPool: group("pool"),
    byZone: group("zone"),
    delete: () =>
      inBatches(names, options.concurrency ?? 10, (name) => core.deleteNode({ name }).catch(() => undefined))
  }
}

/**
 * Creates kwok nodes in beforeAll and deletes them in afterAll of the current describe block.
 * Call it BEFORE useTestNamespace(): after-hooks run in reverse order, so the namespace (and the
 * pods kwok still runs on these nodes) is deleted first and no pods are orphaned.
 */
export function useKwokNodes(count: number, options: KwokNodeOptions = {}): () => KwokNodes {
  let nodes: KwokNodes | undefined
  beforeAll(async () => {
    nodes = await createKwokNodes(count, options)
  }, 180_000)
  afterAll(async () => {
    await nodes?.delete()
  }, 120_000)
  return () => {
    if (nodes === undefined) throw new Error("kwok nodes not created yet (call inside a test or hook)")
    return nodes
  }
}
