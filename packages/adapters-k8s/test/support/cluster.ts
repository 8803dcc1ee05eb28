/**
 * Access to the control plane started by ./global-setup.ts, for test files.
 *
 *   describeWithCluster("…", () => {
 *     const ns = useTestNamespace()          // fresh namespace per file, deleted afterwards
 *     it("…", async () => { const { apps } = kube(); … })
 *   })
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, VersionApi, setHeaderOptions } from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, inject, it } from "vitest"
import type { KubeClusterInfo } from "./types.js"
import { notYet, waitFor } from "./wait.js"

export type { KubeClusterInfo } from "./types.js"

export const clusterInfo = (): KubeClusterInfo => inject("sluiceKube")

const isCI = (): boolean => {
  const ci = process.env.CI
  return ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false"
}

/**
 * `describe` for tests that need the control plane. Without one (binaries not built) the block
 * FAILS when CI=true — no silent skips in CI — and is skipped with a loud notice locally.
 */
export function describeWithCluster(name: string, body: () => void): void {
  const info = clusterInfo()
  if (info.kubeconfig !== null) {
    describe(name, body)
    return
  }
  const reason = info.unavailableReason ?? "no Kubernetes control plane"
  if (isCI()) {
    describe(name, () => {
      it("has a Kubernetes control plane to run against (CI=true: required)", () => {
        throw new Error(reason)
      })
    })
    return
  }
  console.warn(
    `\n${"!".repeat(100)}\n!! SKIPPED "${name}" (local run, CI not set)\n!! ${reason.replaceAll("\n", "\n!! ")}\n${"!".repeat(100)}\n`
  )
  describe.skip(name, body)
}

export interface KubeClients {
  readonly config: KubeConfig
  readonly core: CoreV1Api
  readonly apps: AppsV1Api
  readonly version: VersionApi
}

let clients: KubeClients | undefined

/** API clients for the test cluster (admin credentials). */
export function kube(): KubeClients {
  if (clients) return clients
  const path = clusterInfo().kubeconfig
  if (path === null) throw new Error("no Kubernetes control plane (use describeWithCluster)")
  const config = new KubeConfig()
  config.loadFromFile(path)
  clients = {
    config,
    core: config.makeApiClient(CoreV1Api),
    apps: config.makeApiClient(AppsV1Api),
    version: config.makeApiClient(VersionApi)
  }
  return clients
}

/**
 * Writes a kubeconfig for the test cluster (the admin kubeconfig's server and CA) with one `user`
 * and a context `context` for it to `file`, mode 0600 (it holds credentials); `currentContext`
 * defaults to that context. Returns `file`.
 */
export const writeKubeconfig = (
  file: string,
  o: {
    readonly user: { readonly name: string; readonly user: object }
    readonly context: string
    readonly currentContext?: string
  }
): string => {
  const cluster = kube().config.getCurrentCluster()
  if (cluster === null) throw new Error("the admin kubeconfig has no cluster")
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server: cluster.server, "certificate-authority-data": cluster.caData } }],
      users: [o.user],
      contexts: [{ name: o.context, context: { cluster: "test", user: o.user.name } }],
      "current-context": o.currentContext ?? o.context
    }),
    { mode: 0o600 }
  )
  return file
}

/**
 * A kubeconfig (context `sa`) at `<dir>/<name>.kubeconfig` holding a token minted with the
 * TokenRequest API (an hour) for the ServiceAccount `name` in `namespace`: the cluster as that
 * account sees it, with whatever roles it was bound to. Returns its path.
 */
export const serviceAccountKubeconfig = async (dir: string, namespace: string, name: string): Promise<string> => {
  const minted = await kube().core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } }
  })
  const token = minted.status?.token
  if (token === undefined || token === "") throw new Error("the TokenRequest returned no token")
  return writeKubeconfig(path.join(dir, `${name}.kubeconfig`), { user: { name, user: { token } }, context: "sa" })
}

/** Options for merge-patch calls: `apps.patchNamespacedDeployment({ … body }, mergePatch)`. */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

/** Short random suffix for names that must not collide between files or runs (DNS-1123 safe). */
export const uniqueSuffix = (): string => randomBytes(3).toString("hex")

/**
 * Creates a namespace for the current describe block in beforeAll and deletes it in afterAll.
 * Returns a getter because the name is only known once beforeAll ran.
 */
export function useTestNamespace(prefix = "sluice-test"): () => string {
  let name: string | undefined
  beforeAll(async () => {
    const candidate = `${prefix}-${uniqueSuffix()}`
    await kube().core.createNamespace({ body: { metadata: { name: candidate } } })
    name = candidate
  })
  afterAll(async () => {
    if (name === undefined) return
    const ns = name
    const { core } = kube()
    await core.deleteNamespace({ name: ns }).catch(() => undefined)
    // Best effort: let the namespace controller and kwok remove the pods before nodes go away.
    await waitFor(
      `namespace ${ns} to be deleted`,
      async () => {
        const list = await core.listNamespace({ fieldSelector: `metadata.name=${ns}` })
        return list.items.length === 0 ? true : notYet(list.items[0]?.status?.phase)
      },
      { timeoutMs: 30_000 }
    ).catch((error: unknown) => console.warn(String(error)))
  }, 60_000)
  return () => {
    if (name === undefined) throw new Error("test namespace not created yet (call inside a test or hook)")
    return name
  }
}
