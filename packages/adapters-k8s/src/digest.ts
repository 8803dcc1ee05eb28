/**
 * The adapter's `resolveDigest`: the manifest digest the artifact's tag names in its registry now,
 * read with core's registry reader before any gate, so that every pod template names exactly the
 * bytes that were gated (`repo:tag@sha256:…`) even if the tag moves during the rollout.
 *
 * Credentials, in order: the adapter configuration's `registries`, its `dockerConfig` file, then the
 * `imagePullSecrets` of the workloads the spec selects, or of their ServiceAccounts when a workload
 * names none (what the kubelet will pull with), each read with the API (`get secrets`, and
 * `get serviceaccounts`). When the registry refuses one set, the next is tried; a registry
 * that cannot be reached, refuses all of them, or does not know the tag fails the rollout before
 * anything is touched.
 */
import * as fs from "node:fs"
import type { V1PodSpec, V1Secret } from "@kubernetes/client-node"
import {
  type AdapterError,
  credentialsFromDockerConfig,
  type ImageRef,
  manifestDigest,
  type RegistryCredentials,
  type RegistryError,
  type ResolveDigestContext,
  type ResolvedDigest,
  registryConfigKeys
} from "@sluice/core"
import { Effect, Result, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { type KubernetesAdapterConfig, KubernetesSelector } from "./config.js"
import type { Driver } from "./driver.js"
import { kubeCallOptional, permanent, transient } from "./errors.js"
import type { Kube } from "./kube.js"
import type { WorkloadKind } from "./targets.js"

/** Credentials and where they came from (never the secret itself), for messages. */
interface Source {
  readonly credentials: RegistryCredentials
  readonly from: string
}

/** A pull Secret's name, and through which ServiceAccount the pod gets it (empty: the template's own). */
interface PullSecretName {
  readonly name: string | undefined
  readonly via: string
}

/** One cluster's connection as the resolver needs it. */
export interface DigestCluster {
  readonly name: string | undefined
  readonly kube: Kube
  readonly drivers: Record<WorkloadKind, Driver>
  readonly label: (e: AdapterError) => AdapterError
}

/** Per registry request (manifest, token). */
const REQUEST_TIMEOUT_MS = 30_000

/** The `auths` of a pull Secret, in the format its type says; `undefined` data is an error. */
const secretDocument = (secret: V1Secret): Result.Result<unknown, string> => {
  const type = secret.type ?? "Opaque"
  const key =
    type === "kubernetes.io/dockerconfigjson"
      ? ".dockerconfigjson"
      : type === "kubernetes.io/dockercfg"
        ? ".dockercfg"
        : undefined
  if (key === undefined)
    return Result.fail(`is of type ${type}; an image pull secret is kubernetes.io/dockerconfigjson (or dockercfg)`)
  const data = secret.data?.[key]
  if (data === undefined) return Result.fail(`has no ${key} key`)
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(data, "base64").toString("utf8"))
  } catch {
    return Result.fail(`${key} is not JSON`)
  }
  // The legacy .dockercfg is the `auths` map itself.
  return Result.succeed(key === ".dockercfg" ? { auths: parsed } : parsed)
}

export const makeDigestResolver = (config: KubernetesAdapterConfig, clusters: ReadonlyArray<DigestCluster>) => {
  const op = "inspect" as const

  const fromConfiguration = (registry: string): Source | undefined => {
    for (const key of [registry, ...registryConfigKeys(registry)]) {
      const c = config.registries?.[key]
      if (c !== undefined) return { credentials: c, from: `the adapter configuration's registries["${key}"]` }
    }
    return undefined
  }

  const fromDockerConfig = (registry: string) =>
    Effect.gen(function* () {
      const file = config.dockerConfig
      if (file === undefined) return undefined
      const text = yield* Effect.tryPromise({
        try: () => fs.promises.readFile(file, "utf8"),
        catch: (e) => permanent(op, undefined, `dockerConfig ${file} cannot be read: ${String(e)}`)
      })
      let document: unknown
      try {
        document = JSON.parse(text)
      } catch {
        return yield* permanent(op, undefined, `dockerConfig ${file} is not JSON`)
      }
      const found = credentialsFromDockerConfig(document, registry)
      if (Result.isFailure(found)) return yield* permanent(op, undefined, `dockerConfig ${file}: ${found.failure}`)
      return found.success === undefined
        ? undefined
        : ({ credentials: found.success, from: `dockerConfig ${file}` } as Source)
    })

  /**
   * The pull Secrets a pod of this template pulls with: the template's own `imagePullSecrets`, or,
   * when it names none, its ServiceAccount's (the ServiceAccount admission plugin copies them into
   * every pod it admits without any). A ServiceAccount that does not exist gives none: no pod of the
   * template can be admitted then anyway.
   */
  const pullSecretsOf = (
    cluster: DigestCluster,
    namespace: string,
    pod: V1PodSpec | undefined,
    accounts: Map<string, ReadonlyArray<PullSecretName>>
  ): Effect.Effect<ReadonlyArray<PullSecretName>, AdapterError> => {
    const own = pod?.imagePullSecrets ?? []
    if (own.length > 0) return Effect.succeed(own.map(({ name }) => ({ name, via: "" })))
    const account = pod?.serviceAccountName || pod?.serviceAccount || "default"
    // Many workloads of a namespace share its ServiceAccount: read it once per resolution.
    const known = accounts.get(`${namespace}/${account}`)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.map(
      kubeCallOptional(op, undefined, { verb: "get", resource: "serviceaccounts", namespace, name: account }, () =>
        cluster.kube.clients.core.readNamespacedServiceAccount({ name: account, namespace })
      ),
      (sa) => {
        const names = (sa?.imagePullSecrets ?? []).map(({ name }) => ({
          name,
          via: ` (of ServiceAccount ${namespace}/${account})`
        }))
        accounts.set(`${namespace}/${account}`, names)
        return names
      }
    )
  }

  /**
   * The pull Secrets the selected workloads pull with (their own, or their ServiceAccounts'), in one
   * cluster, that hold credentials for `registry`.
   */
  const fromPullSecrets = (cluster: DigestCluster, selector: KubernetesSelector, registry: string) =>
    Effect.gen(function* () {
      const workloads = yield* cluster.drivers[selector.kind].workloads(selector)
      const seen = new Set<string>()
      const accounts = new Map<string, ReadonlyArray<PullSecretName>>()
      const found: Array<Source> = []
      const where = cluster.name === undefined ? "" : ` in cluster ${cluster.name}`
      for (const w of workloads) {
        const namespace = w.metadata?.namespace ?? "default"
        for (const { name, via } of yield* pullSecretsOf(cluster, namespace, w.spec?.template.spec, accounts)) {
          if (name === undefined || name === "" || seen.has(`${namespace}/${name}`)) continue
          seen.add(`${namespace}/${name}`)
          const secret = yield* kubeCallOptional(
            op,
            undefined,
            { verb: "get", resource: "secrets", namespace, name },
            () => cluster.kube.clients.core.readNamespacedSecret({ name, namespace })
          )
          // The kubelet pulls without a pull secret that does not exist, and so does this.
          if (secret === undefined) continue
          const what = `imagePullSecret ${namespace}/${name}${via}${where}`
          const document = secretDocument(secret)
          if (Result.isFailure(document)) return yield* permanent(op, undefined, `${what} ${document.failure}`)
          const credentials = credentialsFromDockerConfig(document.success, registry)
          if (Result.isFailure(credentials)) return yield* permanent(op, undefined, `${what}: ${credentials.failure}`)
          if (credentials.success !== undefined) found.push({ credentials: credentials.success, from: what })
        }
      }
      return found
    })

  const resolveDigest = (image: ImageRef, context?: ResolveDigestContext) =>
    Effect.gen(function* () {
      const sources: Array<Source> = []
      const configured = fromConfiguration(image.registry)
      if (configured !== undefined) sources.push(configured)
      const file = yield* fromDockerConfig(image.registry)
      if (file !== undefined) sources.push(file)
      if (context?.selector !== undefined) {
        const selector = Schema.decodeUnknownResult(KubernetesSelector, { errors: "all", onExcessProperty: "error" })(
          context.selector
        )
        if (Result.isFailure(selector))
          return yield* permanent(op, undefined, `invalid kubernetes selector: ${selector.failure.message}`)
        for (const cluster of clusters)
          sources.push(
            ...(yield* fromPullSecrets(cluster, selector.success, image.registry).pipe(Effect.mapError(cluster.label)))
          )
      }
      // Anonymous when nothing holds credentials for the registry (a public image); otherwise each
      // set in turn while the registry refuses them.
      const attempts: ReadonlyArray<Source | undefined> = sources.length === 0 ? [undefined] : sources
      const refused: Array<string> = []
      let last: RegistryError | undefined
      for (const source of attempts) {
        const answer = yield* Effect.result(
          manifestDigest(image, { credentials: source?.credentials, timeoutMs: REQUEST_TIMEOUT_MS }).pipe(
            Effect.provide(FetchHttpClient.layer)
          )
        )
        if (Result.isSuccess(answer)) {
          const { digest, configDigest } = answer.success
          const resolved: ResolvedDigest = configDigest === undefined ? { digest } : { digest, configDigest }
          return resolved
        }
        last = answer.failure
        if (last.reason !== "unauthorized") break
        if (source !== undefined) refused.push(source.from)
      }
      const error = last as RegistryError
      const credentials =
        error.reason !== "unauthorized"
          ? ""
          : refused.length > 0
            ? ` (credentials tried: ${refused.join(", ")})`
            : ` (no credentials for ${image.registry}: none in the adapter configuration's registries${config.dockerConfig === undefined ? "" : " or dockerConfig"}, nor in the imagePullSecrets of the selected workloads or of their ServiceAccounts)`
      // Core says whose digest could not be resolved ("cannot resolve the digest of <image> …").
      const message = `${error.message}${credentials}`
      return yield* error.reason === "unreachable"
        ? transient(op, undefined, message)
        : permanent(op, undefined, message)
    })

  return resolveDigest
}
