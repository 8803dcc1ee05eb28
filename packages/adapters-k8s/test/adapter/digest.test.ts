/**
 * The Kubernetes adapter deploys by digest (issue 12), on the real control plane and the real local
 * registry (scripts/docker/registry.sh: Distribution with htpasswd Basic auth on localhost:5000):
 * - a tag is resolved before any gate: the DaemonSet's template, its pods and its ControllerRevision
 *   name `repo:tag@sha256:…` (the digest the registry gave the pushed manifest), the journal header
 *   records it, the rollout's events name it; a second rollout of the same tag touches nothing;
 * - a Trivy report (real trivy) of v2, then another image pushed under the same tag: the scan gate
 *   denies naming both digests and no object changes;
 * - the tag moves after the gates, during the first wave: every pod still runs the first digest;
 * - credentials from the workload's imagePullSecret (and none / refused ones, named), and a role
 *   without `get` on secrets: the rollout stops before anything is touched, naming verb and resource;
 * - a registry nobody answers at, an unknown tag: the rollout fails before any gate, nothing touched.
 * Missing registry, trivy or docker: fails under CI=true, skipped loudly otherwise.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { loadAllYaml, RbacAuthorizationV1Api, type V1DaemonSet } from "@kubernetes/client-node"
import type { RolloutEvent } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import { freePort } from "../../../core/test/support/net.js"
import { trivy, trivyScan } from "../../../core/test/support/trivy.js"
import { pushImage, REGISTRY, registryPassword, registryReady } from "../../../core/test/support/registry.js"
import {
  clusterInfo,
  describeWithCluster,
  kube,
  mergePatch,
  serviceAccountKubeconfig,
  useTestNamespace
} from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { asWritten } from "../support/workloads.js"
import { agentTemplate, podImages } from "./support/daemonset.js"
import { createWebDeployment, podImagesOf, waitRolledOut } from "./support/deployment.js"
import { runRollout } from "./support/rollout.js"
import { createStatefulSet, waitStatefulSetSettled } from "./support/statefulset.js"

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
const NODES = 3
const REPO = `${REGISTRY}/sluice/k8s-digest-${process.pid}`
const stateDir = process.env.SLUICE_DOCKER_STATE ?? "/var/tmp/sluice-docker"
/** registry.sh's private Docker client config, logged in to the local registry. */
const dockerConfig = path.join(stateDir, "registry", "docker-config")
const dockerWorks = (() => {
  try {
    execFileSync("docker", ["image", "inspect", "sluice-test/agent:v2", "sluice-test/agent:v4"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()
const scanReady = registryReady && trivy !== undefined && dockerWorks && fs.existsSync(dockerConfig)
if (registryReady && !scanReady) {
  const message =
    "the Kubernetes scan-binding test needs Trivy (bash scripts/docker/build-trivy.sh), a Docker engine with the test images (scripts/docker/provision.sh, build-test-images.sh) and registry.sh's login"
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING the scan test: ${message}\n`)
}

/** The message of a rollout that could not start (startRollout failed before any gate). */
const refusal = (run: Promise<{ result: { outcome: string } }>): Promise<string> =>
  run.then(
    (r) => {
      throw new Error(`expected the rollout not to start, it ended ${r.result.outcome}`)
    },
    (e: unknown) => (e instanceof Error ? e.message : String(e))
  )

const credentials = () => ({ [REGISTRY]: { username: "sluice", password: registryPassword ?? "" } })

/** `pushImage` in a child process, for an event callback that must not return before the push is done. */
const pushSync = (repository: string, tag: string, marker: string): string => {
  const support = fileURLToPath(new URL("../../../core/test/support/registry.ts", import.meta.url))
  const out = execFileSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { pushImage } = await import(${JSON.stringify(support)}); console.log((await pushImage(...JSON.parse(process.argv[1]))).digest)`,
      JSON.stringify([repository, tag, marker])
    ],
    { encoding: "utf8" }
  )
  return out.trim().split("\n").at(-1) ?? ""
}

/** Tags a test image of the engine as `REPO:tag` and pushes it; the digest the registry gave it. */
const dockerPush = (source: string, tag: string): string => {
  const env = { ...process.env, DOCKER_CONFIG: dockerConfig }
  execFileSync("docker", ["tag", source, `${REPO}:${tag}`], { env })
  const out = execFileSync("docker", ["push", `${REPO}:${tag}`], { env, encoding: "utf8" })
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(out)?.[1]
  if (digest === undefined) throw new Error(`docker push printed no digest:\n${out}`)
  return digest
}

const spec = (o: {
  namespace: string
  name: string
  image: string
  scan?: boolean
  batch?: number
  deadline?: string
  kind?: string
  strategy?: string
}) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${o.name} }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${o.namespace}, kind: ${o.kind ?? "DaemonSet"}, name: ${o.name} }
  artifact: { image: "${o.image}" }
  strategy: ${o.strategy ?? `{ rolling: { batchSize: ${o.batch ?? NODES}, maxUnavailable: ${o.batch ?? NODES} } }`}
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates: { policy: { enabled: ${o.scan !== true} }, scan: { enabled: ${o.scan === true} } }
  rollback: { onFailure: true, onAbort: true }
`

describeWithCluster("deploying by digest (kubernetes adapter, real registry)", () => {
  if (!registryReady) {
    it.skip("needs the local registry (bash scripts/docker/registry.sh)", () => {})
    return
  }
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b", "zone-c"] })
  const namespace = useTestNamespace("sluice-digest")
  /**
   * A DaemonSet on the test nodes running `image`, optionally pulling with `pullSecret` or running as
   * `serviceAccount`; once Ready everywhere.
   */
  const createDaemonSet = async (
    name: string,
    image: string,
    pullSecret?: string,
    serviceAccount?: string
  ): Promise<V1DaemonSet> => {
    const labels = { app: name }
    const template = agentTemplate({ labels, image, pool: nodes().pools[0] ?? "" })
    await kube().apps.createNamespacedDaemonSet({
      namespace: namespace(),
      body: {
        metadata: { name, labels },
        spec: {
          selector: { matchLabels: labels },
          template: {
            ...template,
            spec: {
              ...template.spec,
              ...(pullSecret === undefined ? {} : { imagePullSecrets: [{ name: pullSecret }] }),
              ...(serviceAccount === undefined ? {} : { serviceAccountName: serviceAccount })
            }
          }
        }
      }
    })
    return waitFor(
      `DaemonSet ${name} Ready on ${NODES} nodes`,
      async () => {
        const d = await kube().apps.readNamespacedDaemonSet({ name, namespace: namespace() })
        const s = d.status
        return s?.desiredNumberScheduled === NODES && s.numberAvailable === NODES && s.updatedNumberScheduled === NODES
          ? d
          : notYet(s)
      },
      { timeoutMs: 120_000 }
    )
  }
  const read = (name: string) => kube().apps.readNamespacedDaemonSet({ name, namespace: namespace() })
  const adapterWith = (extra: object = {}) => ({
    kubeconfig: clusterInfo().kubeconfig ?? "",
    resolveDigests: true,
    ...extra
  })

  it("resolves the tag before the gates: template, pods and ControllerRevision name the pushed digest, the journal records it; the same tag again touches nothing", async () => {
    const name = "pinned"
    await createDaemonSet(name, `${REPO}:v1`)
    const pushed = await pushImage(REPO.slice(REGISTRY.length + 1), "v2", `pinned-${Date.now()}`)
    const digested = `${REPO}:v2@${pushed.digest}`
    const events: RolloutEvent[] = []
    const run = await runRollout({
      spec: spec({ namespace: namespace(), name, image: `${REPO}:v2` }),
      rolloutId: "digest-pinned",
      adapter: adapterWith({ registries: credentials() }),
      onEvent: (e) => events.push(e)
    })
    expect(run.result.outcome, run.result.reason).toBe("completed")
    const ds = await read(name)
    expect(ds.spec?.template.spec?.containers[0]?.image).toBe(digested)
    const pods = await podImages(namespace(), name)
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === digested)).toBe(true)
    // The ControllerRevision of the current template (what a later rollback would restore from).
    const revisions = await kube().apps.listNamespacedControllerRevision({
      namespace: namespace(),
      labelSelector: `app=${name}`
    })
    const newest = revisions.items.reduce((a, b) => ((a.revision ?? 0) > (b.revision ?? 0) ? a : b))
    const data = newest.data as { spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } } }
    expect(data.spec?.template?.spec?.containers?.[0]?.image).toBe(digested)
    // The journal header and the event stream name the digest.
    const stored = await Effect.runPromise(run.store.read("digest-pinned"))
    expect(stored.header.config.artifactDigest).toMatchObject({
      digest: pushed.digest,
      configDigest: pushed.configDigest,
      source: "registry",
      reference: `${REPO}:v2`
    })
    expect(stored.header.image).toBe(digested)
    const started = events.find((e) => e.type === "rolloutStarted")
    expect(started?.type === "rolloutStarted" && started.image).toBe(digested)

    // The same tag again: resolved to the same digest, already running everywhere, nothing patched.
    const again = await runRollout({
      spec: spec({ namespace: namespace(), name, image: `${REPO}:v2` }),
      rolloutId: "digest-pinned-again",
      adapter: adapterWith({ registries: credentials() })
    })
    expect(again.result.outcome).toBe("completed")
    expect(again.result.updated).toEqual([])
    expect(asWritten(await read(name))).toEqual(asWritten(ds))
  }, 180_000)

  it("a StatefulSet and a Deployment carry the digest in their templates too; the same tag again touches neither", async () => {
    const pool = nodes().pools[0] ?? ""
    const pushed = await pushImage(REPO.slice(REGISTRY.length + 1), "sets", `sets-${Date.now()}`)
    const digested = `${REPO}:sets@${pushed.digest}`
    await createStatefulSet({ namespace: namespace(), name: "db", image: `${REPO}:v1`, pool, replicas: 2 })
    await createWebDeployment({ namespace: namespace(), name: "web", image: `${REPO}:v1`, pool, replicas: 2 })
    const cases = [
      { kind: "StatefulSet", name: "db", strategy: "{ partition: { partitions: [1, 0] } }" },
      { kind: "Deployment", name: "web", strategy: "{ rolling: { batchSize: 1, maxUnavailable: 1 } }" }
    ]
    for (const c of cases) {
      const run = await runRollout({
        spec: spec({ namespace: namespace(), name: c.name, image: `${REPO}:sets`, kind: c.kind, strategy: c.strategy }),
        rolloutId: `digest-${c.name}`,
        adapter: adapterWith({ registries: credentials() })
      })
      expect(run.result.outcome, `${c.kind}: ${run.result.reason}`).toBe("completed")
    }
    const db = await kube().apps.readNamespacedStatefulSet({ name: "db", namespace: namespace() })
    expect(db.spec?.template.spec?.containers[0]?.image).toBe(digested)
    const settled = await waitStatefulSetSettled(namespace(), "db", 2)
    const web = await waitRolledOut(namespace(), "web", digested)
    expect(await podImagesOf(namespace(), "app=web")).toEqual([digested, digested])
    for (const c of cases) {
      const again = await runRollout({
        spec: spec({ namespace: namespace(), name: c.name, image: `${REPO}:sets`, kind: c.kind, strategy: c.strategy }),
        rolloutId: `digest-${c.name}-again`,
        adapter: adapterWith({ registries: credentials() })
      })
      expect(again.result.updated, c.kind).toEqual([])
    }
    // Spec changes bump the generation; the second rollouts made none.
    expect(
      (await kube().apps.readNamespacedStatefulSet({ name: "db", namespace: namespace() })).metadata?.generation
    ).toBe(settled.metadata?.generation)
    expect(
      (await kube().apps.readNamespacedDeployment({ name: "web", namespace: namespace() })).metadata?.generation
    ).toBe(web.metadata?.generation)
  }, 240_000)

  it.skipIf(!scanReady)(
    "a report of v2, then another image pushed under the tag: the scan gate denies naming both digests; no object changes",
    async () => {
      const name = "scanned"
      const before = await createDaemonSet(name, `${REPO}:v1`)
      const scanned = dockerPush("sluice-test/agent:v2", "scan")
      const reports = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-k8s-scans-"))
      const report = path.join(reports, "k8s-digest-scan.json")
      const scan = trivyScan({ image: `${REPO}:scan`, output: report, cacheDir: path.join(reports, "cache") })
      expect(scan.Metadata.RepoDigests).toContain(`${REPO}@${scanned}`)
      fs.rmSync(path.join(reports, "cache"), { recursive: true, force: true })
      // The tag moves after the scan: another image under the same name.
      const moved = dockerPush("sluice-test/agent:v4", "scan")
      expect(moved).not.toBe(scanned)

      const events: RolloutEvent[] = []
      const run = await runRollout({
        spec: spec({ namespace: namespace(), name, image: `${REPO}:scan`, scan: true }),
        rolloutId: "digest-scanned",
        adapter: adapterWith({ registries: credentials() }),
        scans: reports,
        onEvent: (e) => events.push(e)
      })
      expect(run.result.outcome).toBe("blocked")
      const denied = events.find((e) => e.type === "gateDecided" && e.gate === "scan" && !e.allow)
      const messages = denied?.type === "gateDecided" ? denied.violations.map((v) => v.message).join("\n") : ""
      expect(messages).toContain(scanned)
      expect(messages).toContain(moved)
      const after = await read(name)
      expect(asWritten(after)).toEqual(asWritten(before))
      expect(after.spec?.template.spec?.containers[0]?.image).toBe(`${REPO}:v1`)
    },
    240_000
  )

  it("the tag moves during the first wave: the later waves still deploy the digest resolved before the gates", async () => {
    const name = "moving"
    await createDaemonSet(name, `${REPO}:v1`)
    const repository = REPO.slice(REGISTRY.length + 1)
    const first = await pushImage(repository, "moving", `moving-1-${Date.now()}`)
    let moved: string | undefined
    const run = await runRollout({
      spec: spec({ namespace: namespace(), name, image: `${REPO}:moving`, batch: 1 }),
      rolloutId: "digest-moving",
      adapter: adapterWith({ registries: credentials() }),
      onEvent: (e) => {
        // Synchronously (a child process), so the tag has moved before the next wave starts.
        if (e.type === "waveStarted" && e.wave === 0) moved = pushSync(repository, "moving", `moving-2-${Date.now()}`)
      }
    })
    expect(run.result.outcome, run.result.reason).toBe("completed")
    expect(moved).toBeDefined()
    expect(moved).not.toBe(first.digest)
    const waves = run.events.filter((e) => e.type === "waveStarted")
    expect(waves.length).toBe(NODES)
    const pods = await podImages(namespace(), name)
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === `${REPO}:moving@${first.digest}`)).toBe(true)
  }, 180_000)

  it("a digested version that never becomes Ready: the rollback restores the template exactly (from its ControllerRevision)", async () => {
    const name = "undone"
    const before = await createDaemonSet(name, `${REPO}:v1`)
    // kwok's stage keeps a pod whose image contains "never-ready" from ever being Ready.
    const pushed = await pushImage(REPO.slice(REGISTRY.length + 1), "never-ready", `undone-${Date.now()}`)
    const run = await runRollout({
      spec: spec({ namespace: namespace(), name, image: `${REPO}:never-ready`, batch: 1, deadline: "8s" }),
      rolloutId: "digest-undone",
      adapter: adapterWith({ registries: credentials() })
    })
    expect(run.result.outcome).toBe("rolledBack")
    expect(run.result.reason).toContain("progress deadline")
    const applied = run.events.find((e) => e.type === "rolloutStarted")
    expect(applied?.type === "rolloutStarted" && applied.image).toBe(`${REPO}:never-ready@${pushed.digest}`)
    const after = await read(name)
    expect(after.spec?.template).toEqual(before.spec?.template)
    await waitFor(
      "every pod back on v1",
      async () => {
        const pods = await podImages(namespace(), name)
        return pods.length === NODES && pods.every((p) => p.image === `${REPO}:v1` && p.ready) ? pods : notYet(pods)
      },
      { timeoutMs: 60_000 }
    )
  }, 180_000)

  /** A `kubernetes.io/dockerconfigjson` Secret with the user `sluice` and `password` for the test registry. */
  const pullSecret = (name: string, password: string) => ({
    metadata: { name },
    type: "kubernetes.io/dockerconfigjson",
    data: {
      ".dockerconfigjson": Buffer.from(
        JSON.stringify({ auths: { [REGISTRY]: { auth: Buffer.from(`sluice:${password}`).toString("base64") } } })
      ).toString("base64")
    }
  })

  it("credentials from the workload's imagePullSecret; none, or refused ones, stop the rollout naming where they came from", async () => {
    const name = "pulls"
    const before = await createDaemonSet(name, `${REPO}:v1`, "regcred")
    const pushed = await pushImage(REPO.slice(REGISTRY.length + 1), "pulls", `pulls-${Date.now()}`)
    const image = `${REPO}:pulls`

    // No secret yet (the kubelet would pull anonymously too): the registry asks, nothing to answer with.
    const none = await refusal(
      runRollout({
        spec: spec({ namespace: namespace(), name, image }),
        rolloutId: "digest-pulls-none",
        adapter: adapterWith()
      })
    )
    expect(none).toMatch(/cannot resolve the digest of .*:pulls/)
    expect(none).toContain(`no credentials for ${REGISTRY}`)
    expect(asWritten(await read(name))).toEqual(asWritten(before))

    const wrong = `wrong-${Date.now()}`
    await kube().core.createNamespacedSecret({ namespace: namespace(), body: pullSecret("regcred", wrong) })
    const refused = await refusal(
      runRollout({
        spec: spec({ namespace: namespace(), name, image }),
        rolloutId: "digest-pulls-refused",
        adapter: adapterWith()
      })
    )
    expect(refused).toContain("the credentials were refused")
    expect(refused).toContain(`credentials tried: imagePullSecret ${namespace()}/regcred`)
    expect(refused).not.toContain(wrong)
    expect(asWritten(await read(name))).toEqual(asWritten(before))

    await kube().core.replaceNamespacedSecret({
      name: "regcred",
      namespace: namespace(),
      body: pullSecret("regcred", registryPassword ?? "")
    })
    const run = await runRollout({
      spec: spec({ namespace: namespace(), name, image }),
      rolloutId: "digest-pulls",
      adapter: adapterWith()
    })
    expect(run.result.outcome, run.result.reason).toBe("completed")
    expect((await read(name)).spec?.template.spec?.containers[0]?.image).toBe(`${image}@${pushed.digest}`)
  }, 180_000)

  it("a workload that names no imagePullSecrets pulls with its ServiceAccount's: those credentials resolve the digest, and are named when refused", async () => {
    const name = "sa-pulls"
    // The ServiceAccount must exist before the DaemonSet's pods can be admitted; no pull secret yet.
    await kube().core.createNamespacedServiceAccount({ namespace: namespace(), body: { metadata: { name: "puller" } } })
    const before = await createDaemonSet(name, `${REPO}:v1`, undefined, "puller")
    const pushed = await pushImage(REPO.slice(REGISTRY.length + 1), "sa-pulls", `sa-pulls-${Date.now()}`)
    const image = `${REPO}:sa-pulls`
    const rollout = (rolloutId: string) =>
      runRollout({ spec: spec({ namespace: namespace(), name, image }), rolloutId, adapter: adapterWith() })

    const none = await refusal(rollout("digest-sa-none"))
    expect(none).toContain(`no credentials for ${REGISTRY}`)
    expect(none).toContain("imagePullSecrets of the selected workloads or of their ServiceAccounts")
    expect(asWritten(await read(name))).toEqual(asWritten(before))

    // The ServiceAccount names a Secret with a wrong password: refused, and named with its ServiceAccount.
    const wrong = `wrong-${Date.now()}`
    await kube().core.createNamespacedSecret({ namespace: namespace(), body: pullSecret("sa-regcred", wrong) })
    await kube().core.patchNamespacedServiceAccount(
      { name: "puller", namespace: namespace(), body: { imagePullSecrets: [{ name: "sa-regcred" }] } },
      mergePatch
    )
    const refused = await refusal(rollout("digest-sa-refused"))
    expect(refused).toContain(
      `credentials tried: imagePullSecret ${namespace()}/sa-regcred (of ServiceAccount ${namespace()}/puller)`
    )
    expect(refused).not.toContain(wrong)
    expect(asWritten(await read(name))).toEqual(asWritten(before))

    await kube().core.replaceNamespacedSecret({
      name: "sa-regcred",
      namespace: namespace(),
      body: pullSecret("sa-regcred", registryPassword ?? "")
    })
    const run = await rollout("digest-sa")
    expect(run.result.outcome, run.result.reason).toBe("completed")
    expect((await read(name)).spec?.template.spec?.containers[0]?.image).toBe(`${image}@${pushed.digest}`)
  }, 180_000)

  it("a role without get on secrets: the rollout stops before anything is touched, naming the verb and the resource", async () => {
    const name = "pulls"
    const before = await read(name)
    const rules = fileRules()
    const sa = await serviceAccount("digest-no-secrets", rules)
    const forbidden = await refusal(
      runRollout({
        spec: spec({ namespace: namespace(), name, image: `${REPO}:pulls` }),
        rolloutId: "digest-rbac",
        adapter: { kubeconfig: sa, resolveDigests: true }
      })
    )
    expect(forbidden).toContain(
      `forbidden: cannot get secrets regcred in namespace ${namespace()} (RBAC: the role needs "get" on "secrets")`
    )
    expect(asWritten(await read(name))).toEqual(asWritten(before))

    // The file's pull-secret role, bound in the namespace, is what lets it through.
    const pullRole = pullSecretRole()
    await rbac().createNamespacedRoleBinding({
      namespace: namespace(),
      body: {
        metadata: { name: "digest-pull-secrets" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: created.pullRole },
        subjects: [{ kind: "ServiceAccount", name: "digest-no-secrets", namespace: namespace() }]
      }
    })
    expect(pullRole.rules).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["regcred"] }
    ])
    await waitFor(
      "the role binding to take effect",
      async () => {
        try {
          const r = await runRollout({
            spec: spec({ namespace: namespace(), name, image: `${REPO}:pulls` }),
            rolloutId: `digest-rbac-ok-${Date.now()}`,
            adapter: { kubeconfig: sa, resolveDigests: true }
          })
          return r.result.outcome === "completed" ? r : notYet(r.result.reason)
        } catch (e) {
          return notYet(String(e))
        }
      },
      { timeoutMs: 30_000, intervalMs: 1000 }
    )
  }, 180_000)

  it("a registry nobody answers at, or a tag it does not know: the rollout fails before any gate, nothing touched", async () => {
    const name = "unreachable"
    const before = await createDaemonSet(name, `${REPO}:v1`)
    const port = await freePort()
    const events: RolloutEvent[] = []
    const nobody = await refusal(
      runRollout({
        spec: spec({ namespace: namespace(), name, image: `127.0.0.1:${port}/sluice/agent:2` }),
        rolloutId: "digest-unreachable",
        adapter: adapterWith(),
        onEvent: (e) => events.push(e)
      })
    )
    const unknown = await refusal(
      runRollout({
        spec: spec({ namespace: namespace(), name, image: `${REPO}:never-pushed` }),
        rolloutId: "digest-unknown",
        adapter: adapterWith({ registries: credentials() }),
        onEvent: (e) => events.push(e)
      })
    )
    expect(nobody).toMatch(
      new RegExp(`cannot resolve the digest of 127\\.0\\.0\\.1:${port}/sluice/agent:2 .*does not answer`)
    )
    expect(unknown).toMatch(/cannot resolve the digest of .*:never-pushed .*has no manifest .*:never-pushed/)
    expect(events.filter((e) => e.type === "gateDecided")).toEqual([])
    expect(asWritten(await read(name))).toEqual(asWritten(before))
  }, 120_000)

  // --- RBAC helpers: a ServiceAccount bound to exactly examples/k8s/rbac.yaml's main ClusterRole.
  const rbac = () => kube().config.makeApiClient(RbacAuthorizationV1Api)
  const created = { roles: [] as string[], bindings: [] as string[], pullRole: "" }
  const rbacObjects = () =>
    loadAllYaml(fs.readFileSync(path.join(repoRoot, "examples/k8s/rbac.yaml"), "utf8")) as Array<{
      kind: string
      metadata: { name: string }
      rules?: Array<object>
    }>
  const fileRules = () =>
    rbacObjects().find((o) => o.kind === "ClusterRole" && o.metadata.name === "sluice-rollouts")?.rules ?? []
  const pullSecretRole = () => {
    const role = rbacObjects().find((o) => o.kind === "ClusterRole" && o.metadata.name === "sluice-pull-secrets")
    if (role === undefined) throw new Error("examples/k8s/rbac.yaml has no sluice-pull-secrets ClusterRole")
    return role
  }
  let work = ""
  const serviceAccount = async (name: string, rules: ReadonlyArray<object>): Promise<string> => {
    work ||= fs.mkdtempSync(path.join(os.tmpdir(), "sluice-digest-rbac-"))
    const ns = namespace()
    const role = `${name}-${ns}`
    await kube().core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } })
    await rbac().createClusterRole({ body: { metadata: { name: role }, rules: [...rules] as never } })
    created.roles.push(role)
    await rbac().createClusterRoleBinding({
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
        subjects: [{ kind: "ServiceAccount", name, namespace: ns }]
      }
    })
    created.bindings.push(role)
    const pull = pullSecretRole()
    created.pullRole = `${role}-pull`
    await rbac().createClusterRole({ body: { metadata: { name: created.pullRole }, rules: pull.rules as never } })
    created.roles.push(created.pullRole)
    return serviceAccountKubeconfig(work, ns, name)
  }
  afterAll(async () => {
    for (const b of created.bindings)
      await rbac()
        .deleteClusterRoleBinding({ name: b })
        .catch(() => undefined)
    for (const r of created.roles)
      await rbac()
        .deleteClusterRole({ name: r })
        .catch(() => undefined)
  })
})
