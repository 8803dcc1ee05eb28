import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { Effect } from "effect"
import type { KubernetesAdapterConfig } from "./config.js"
import { KubernetesConfigError } from "./errors.js"

/** The API clients the adapter uses; one per adapter instance. */
export interface KubeClients {
  readonly config: KubeConfig
  readonly core: CoreV1Api
  readonly apps: AppsV1Api
  /** Where the connection came from, for messages: `kubeconfig /path (context x)` or `in-cluster`. */
  readonly origin: string
}

/**
 * client-node 2.0 builds a new undici Agent for every API request, so every request opens (and
 * TLS-handshakes) a connection of its own: a wave of 100 pod deletes cost 100 handshakes on both
 * sides, CPU the apiserver and controllers needed. One Agent per cluster and user keeps a pool of
 * connections instead. Credentials that change (exec plugins, rotated tokens) travel in headers,
 * which are still applied per request; a changed certificate or CA file gets a new Agent.
 */
const reuseConnections = (kc: KubeConfig) => {
  const target = kc as unknown as { createDispatcher: (cluster: unknown, options: object) => unknown }
  const create = target.createDispatcher.bind(kc)
  const cache = new Map<string, unknown>()
  target.createDispatcher = (cluster, options) => {
    const key = JSON.stringify([cluster, options])
    let dispatcher = cache.get(key)
    if (dispatcher === undefined) {
      dispatcher = create(cluster, options)
      cache.set(key, dispatcher)
    }
    return dispatcher
  }
}

const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"

/**
 * Loads the connection: an explicit kubeconfig (and context), else `$KUBECONFIG`, else
 * `~/.kube/config`, else the in-cluster service account. A missing file or context is an error
 * naming it, never a silent fallback to another cluster.
 */
export const loadClients = (config: KubernetesAdapterConfig) =>
  Effect.try({
    try: (): KubeClients => {
      const kc = new KubeConfig()
      let origin: string
      if (config.inCluster === true) {
        if (config.kubeconfig !== undefined) throw new Error("`inCluster` and `kubeconfig` exclude each other")
        if (!existsSync(IN_CLUSTER_TOKEN)) throw new Error(`inCluster: no service account token at ${IN_CLUSTER_TOKEN}`)
        kc.loadFromCluster()
        origin = "in-cluster"
      } else {
        const path =
          config.kubeconfig ??
          process.env.KUBECONFIG?.split(":").find((p) => p !== "") ??
          (existsSync(join(homedir(), ".kube", "config")) ? join(homedir(), ".kube", "config") : undefined)
        if (path === undefined) {
          if (!existsSync(IN_CLUSTER_TOKEN))
            throw new Error("no kubeconfig: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account")
          kc.loadFromCluster()
          origin = "in-cluster"
        } else {
          if (!existsSync(path)) throw new Error(`kubeconfig ${path}: no such file`)
          kc.loadFromFile(path)
          origin = `kubeconfig ${path}`
        }
      }
      if (config.context !== undefined) {
        const names = kc.getContexts().map((c) => c.name)
        if (!names.includes(config.context))
          throw new Error(
            `context "${config.context}" is not in the kubeconfig (it has: ${names.join(", ") || "none"})`
          )
        kc.setCurrentContext(config.context)
        origin += ` (context ${config.context})`
      } else if (kc.getCurrentCluster() === null) {
        throw new Error(`${origin}: no current context with a cluster`)
      }
      reuseConnections(kc)
      return { config: kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), origin }
    },
    catch: (cause) =>
      new KubernetesConfigError({
        message: cause instanceof Error ? cause.message : String(cause),
        cause
      })
  })

/** One cluster's connection: its name (`undefined` for the single cluster of a plain configuration). */
export interface ClusterClients {
  readonly name: string | undefined
  readonly clients: KubeClients
}

/**
 * The connection of every cluster the configuration names (`clusters`), each loaded as a single
 * cluster would be (its kubeconfig, else the top-level one, else the defaults), or the one
 * connection of a plain configuration. A cluster whose kubeconfig or context cannot be loaded is an
 * error naming the cluster: nothing is sent to any cluster before every one of them is known.
 */
export const loadClusters = (config: KubernetesAdapterConfig) =>
  config.clusters === undefined
    ? Effect.map(loadClients(config), (clients): ReadonlyArray<ClusterClients> => [{ name: undefined, clients }])
    : Effect.forEach(config.clusters, (c) =>
        loadClients({
          ...(c.kubeconfig !== undefined
            ? { kubeconfig: c.kubeconfig }
            : config.kubeconfig !== undefined && c.inCluster !== true
              ? { kubeconfig: config.kubeconfig }
              : {}),
          ...(c.context === undefined ? {} : { context: c.context }),
          ...(c.inCluster === undefined ? {} : { inCluster: c.inCluster })
        }).pipe(
          Effect.map(
            (clients): ClusterClients => ({
              name: c.name,
              clients: { ...clients, origin: `cluster ${c.name}: ${clients.origin}` }
            })
          ),
          Effect.mapError(
            (e) => new KubernetesConfigError({ message: `cluster ${c.name}: ${e.message}`, cause: e.cause })
          )
        )
      )
