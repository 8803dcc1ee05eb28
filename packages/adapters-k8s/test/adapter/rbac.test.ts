/**
 * examples/k8s/rbac.yaml is enough, and a missing rule says which: a whole DaemonSet rollout through
 * the `sluice` CLI (examples/cli, built) with a kubeconfig holding a token of a ServiceAccount bound
 * to exactly the file's ClusterRole (TokenRequest API), then a rollout as a ServiceAccount whose role
 * lacks `delete` on pods, whose error names the verb and the resource instead of a stack trace; a
 * role without `get` on namespaces (the policy gate reads the namespace's Pod Security labels) is
 * blocked before anything is touched, naming the rule; and the file's "confine to some namespaces"
 * advice (a RoleBinding in the namespace, the `nodes` rule cluster-wide) rolls the DaemonSet too.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { loadAllYaml, RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node"
import { afterAll, beforeAll, expect, it } from "vitest"
import {
  describeWithCluster,
  kube,
  serviceAccountKubeconfig,
  uniqueSuffix,
  useTestNamespace
} from "../support/cluster.js"
import { useKwokNodes, ZONE_LABEL } from "../support/nodes.js"
import { tagsAsWritten } from "../support/tags.js"
import { notYet, waitFor } from "../support/wait.js"
import { asWritten } from "../support/workloads.js"

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
const CLI = path.join(repoRoot, "examples", "cli", "dist", "main.js")
const RBAC_FILE = path.join(repoRoot, "examples", "k8s", "rbac.yaml")
const IMAGE = (tag: string) => `registry.sluice.dev/agents/node-agent:${tag}`
const NODES = 6
const ZONES = ["zone-a", "zone-b", "zone-c"]

interface RbacObject {
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string }
  readonly rules?: ReadonlyArray<V1PolicyRule>
}

/** The ClusterRole's rules exactly as the file has them. */
const fileRules = (): ReadonlyArray<V1PolicyRule> => {
  const objects = loadAllYaml(fs.readFileSync(RBAC_FILE, "utf8")) as ReadonlyArray<RbacObject>
  const kinds = objects.map((o) => o.kind).sort()
  // The second ClusterRole reads image pull secrets, bound per namespace (test/adapter/digest.test.ts).
  expect(kinds).toEqual(["ClusterRole", "ClusterRole", "ClusterRoleBinding", "Namespace", "ServiceAccount"])
  const role = objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "sluice-rollouts")
  if (role?.rules === undefined) throw new Error(`${RBAC_FILE}: no ClusterRole rules`)
  return role.rules
}

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the built CLI with no ambient kubeconfig: only what the arguments say. */
const sluice = (args: ReadonlyArray<string>, cwd: string): Promise<Ran> =>
  new Promise((resolve, reject) => {
    if (!fs.existsSync(CLI)) {
      reject(new Error(`${CLI} is missing: build it first (npx tsc -b; npm test does)`))
      return
    }
    const { KUBECONFIG: _k, SLUICE_STORE: _s, ...env } = process.env
    const argv = args[0] === "apply" ? [...args, ...tagsAsWritten()] : args
    const child = spawn(process.execPath, [CLI, ...argv], { cwd, env: { ...env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

describeWithCluster("RBAC: examples/k8s/rbac.yaml (kubernetes adapter through the CLI)", () => {
  const nodes = useKwokNodes(NODES, { zones: ZONES })
  const namespace = useTestNamespace("sluice-rbac")
  const suffix = uniqueSuffix()
  const created: Array<() => Promise<unknown>> = []
  let work = ""
  const rbac = () => kube().config.makeApiClient(RbacAuthorizationV1Api)

  /**
   * A ServiceAccount bound (ClusterRoleBinding) to a ClusterRole with `rules` and nothing else, and
   * a kubeconfig (context `sa`) holding a token for it minted with the TokenRequest API.
   */
  const serviceAccount = async (
    name: string,
    rules: ReadonlyArray<V1PolicyRule>,
    /**
     * `namespace`: bound with a RoleBinding in the test namespace only, plus a ClusterRoleBinding to
     * a role with just the file's `nodes` rule (the file's "confine to some namespaces" advice).
     */
    binding: "cluster" | "namespace" = "cluster"
  ) => {
    const ns = namespace()
    const cluster = `${name}-${suffix}`
    const { core } = kube()
    const subjects = [{ kind: "ServiceAccount", name, namespace: ns }]
    const roleRef = (role: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role })
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } })
    await rbac().createClusterRole({ body: { metadata: { name: cluster }, rules: [...rules] } })
    created.push(() => rbac().deleteClusterRole({ name: cluster }))
    if (binding === "cluster") {
      await rbac().createClusterRoleBinding({
        body: { metadata: { name: cluster }, roleRef: roleRef(cluster), subjects }
      })
      created.push(() => rbac().deleteClusterRoleBinding({ name: cluster }))
    } else {
      await rbac().createNamespacedRoleBinding({
        namespace: ns,
        body: { metadata: { name: cluster }, roleRef: roleRef(cluster), subjects }
      })
      const nodesOnly = `${cluster}-nodes`
      await rbac().createClusterRole({
        body: { metadata: { name: nodesOnly }, rules: rules.filter((r) => r.resources?.includes("nodes")) }
      })
      created.push(() => rbac().deleteClusterRole({ name: nodesOnly }))
      await rbac().createClusterRoleBinding({
        body: { metadata: { name: nodesOnly }, roleRef: roleRef(nodesOnly), subjects }
      })
      created.push(() => rbac().deleteClusterRoleBinding({ name: nodesOnly }))
    }
    return serviceAccountKubeconfig(work, ns, name)
  }

  const spec = (image: string) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: rbac-agent }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${namespace()}, kind: DaemonSet, name: agent }
  artifact: { image: "${image}" }
  strategy: { rolling: { batchSize: 2, maxUnavailable: 2 } }
  topology: { key: ${ZONE_LABEL} }
  health: { progressDeadline: 60s, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
  rollback: { onFailure: true, onAbort: true }
`

  const pods = async () =>
    (await kube().core.listNamespacedPod({ namespace: namespace(), labelSelector: "app=agent" })).items
      .filter((p) => p.metadata?.deletionTimestamp === undefined)
      .map((p) => ({
        image: p.spec?.containers[0]?.image,
        ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false
      }))

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-rbac-"))
    const labels = { app: "agent" }
    await kube().apps.createNamespacedDaemonSet({
      namespace: namespace(),
      body: {
        metadata: { name: "agent", labels },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              nodeSelector: { "sluice.dev/pool": nodes().pools[0] ?? "" },
              terminationGracePeriodSeconds: 1,
              securityContext: { runAsNonRoot: true, runAsUser: 10001 },
              containers: [
                {
                  name: "agent",
                  image: IMAGE("1.0.0"),
                  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
                  resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "10m", memory: "16Mi" } }
                }
              ]
            }
          }
        }
      }
    })
    await waitFor(
      `DaemonSet agent Ready on ${NODES} nodes`,
      async () => {
        const current = await pods()
        return current.length === NODES && current.every((p) => p.ready) ? true : notYet(current)
      },
      { timeoutMs: 90_000 }
    )
  }, 120_000)

  afterAll(async () => {
    for (const remove of created.reverse()) await remove().catch(() => undefined)
    if (work !== "") fs.rmSync(work, { recursive: true, force: true })
  })

  it("a ServiceAccount bound to exactly the file's ClusterRole rolls a DaemonSet through `sluice plan` and `sluice apply`", async () => {
    const kubeconfig = await serviceAccount("sluice-rollouts", fileRules())
    fs.writeFileSync(path.join(work, "v2.yaml"), spec(IMAGE("2.0.0")))
    const store = path.join(work, "store")
    // Relative paths, from the directory the CLI runs in.
    const plan = await sluice(
      ["plan", "-f", "v2.yaml", "--kubeconfig", path.basename(kubeconfig), "--context", "sa", "--store", store],
      work
    )
    expect(plan.stderr).not.toMatch(/error|warning/i)
    expect(plan.code).toBe(0)
    expect(plan.stdout).toContain(`${NODES} target(s) to update`)
    expect(plan.stdout).toContain(`nodes per zone (${ZONE_LABEL}): zone-a 2, zone-b 2, zone-c 2`)

    const apply = await sluice(
      ["apply", "-f", "v2.yaml", "--kubeconfig", kubeconfig, "--id", "rbac-v2", "--store", store, "--plain"],
      work
    )
    expect(apply.stderr).not.toMatch(/error|warning/i)
    expect(apply.code).toBe(0)
    expect(apply.stdout).toContain("✓ completed")
    expect(apply.stdout).toContain(`${NODES}/${NODES} updated`)
    expect(apply.stdout).toMatch(/concluded\s+DaemonSet \S+\/agent: update strategy RollingUpdate restored/)
    const after = await pods()
    expect(after).toHaveLength(NODES)
    expect(after.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
    const ds = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
  }, 180_000)

  it("a role without `delete` on pods: the error names the verb and the resource, no stack trace, nothing left half done", async () => {
    const rules = fileRules().map((r) =>
      r.resources?.includes("pods") ? { ...r, verbs: r.verbs.filter((v) => v !== "delete") } : r
    )
    expect(rules.some((r) => r.resources?.includes("pods") && r.verbs.includes("delete"))).toBe(false)
    const kubeconfig = await serviceAccount("sluice-no-delete", rules)
    fs.writeFileSync(path.join(work, "v3.yaml"), spec(IMAGE("3.0.0")))
    const apply = await sluice(
      [
        "apply",
        "-f",
        "v3.yaml",
        "--kubeconfig",
        kubeconfig,
        "--id",
        "rbac-v3",
        "--store",
        path.join(work, "store"),
        "--plain"
      ],
      work
    )
    const output = `${apply.stdout}\n${apply.stderr}`
    expect(output).toContain("forbidden: cannot delete pods")
    expect(output).toContain('the role needs "delete" on "pods"')
    expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
    expect(output).not.toContain("internal error")
    // The wave failed before any pod was deleted; the rollback put the template back.
    expect(apply.code).toBe(3)
    const after = await pods()
    expect(after).toHaveLength(NODES)
    expect(after.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
    const ds = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    expect(ds.spec?.template.spec?.containers[0]?.image).toBe(IMAGE("2.0.0"))
    expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
  }, 180_000)

  it("a role that cannot list nodes: a prompt error naming the verb and resource, nothing touched", async () => {
    const rules = fileRules().filter((r) => !r.resources?.includes("nodes"))
    const kubeconfig = await serviceAccount("sluice-no-nodes", rules)
    const before = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    const plan = await sluice(["plan", "-f", "v3.yaml", "--kubeconfig", kubeconfig], work)
    const output = `${plan.stdout}\n${plan.stderr}`
    expect(output).toContain("forbidden: cannot list nodes")
    expect(output).toContain('the role needs "list" on "nodes"')
    expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
    expect(plan.code).not.toBe(0)
    const after = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    expect(after.metadata?.generation).toBe(before.metadata?.generation)
  }, 180_000)

  it("a role without `get` on namespaces: blocked by the fail-closed gate, naming the rule, nothing touched", async () => {
    const rules = fileRules().filter((r) => !r.resources?.includes("namespaces"))
    expect(rules).toHaveLength(fileRules().length - 1)
    const kubeconfig = await serviceAccount("sluice-no-namespaces", rules)
    fs.writeFileSync(path.join(work, "v4.yaml"), spec(IMAGE("4.0.0")))
    const before = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    const apply = await sluice(
      [
        "apply",
        "-f",
        "v4.yaml",
        "--kubeconfig",
        kubeconfig,
        "--id",
        "rbac-no-namespaces",
        "--store",
        path.join(work, "store"),
        "--plain"
      ],
      work
    )
    const output = `${apply.stdout}\n${apply.stderr}`
    expect(output).toContain(`forbidden: cannot get namespaces ${namespace()}`)
    expect(output).toContain('the role needs "get" on "namespaces"')
    expect(output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m)
    expect(output).not.toContain("internal error")
    // Blocked at the pre-flight gate (exit 2): the DaemonSet and its pods are as they were.
    expect(apply.code).toBe(2)
    const after = await kube().apps.readNamespacedDaemonSet({ name: "agent", namespace: namespace() })
    expect(asWritten(after)).toEqual(asWritten(before))
    const running = await pods()
    expect(running).toHaveLength(NODES)
    expect(running.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
  }, 180_000)

  it("confined to the namespace (RoleBinding to the file's role, `nodes` cluster-wide): the rollout reads its namespace and completes", async () => {
    const kubeconfig = await serviceAccount("sluice-confined", fileRules(), "namespace")
    fs.writeFileSync(path.join(work, "v5.yaml"), spec(IMAGE("5.0.0")))
    const apply = await sluice(
      [
        "apply",
        "-f",
        "v5.yaml",
        "--kubeconfig",
        kubeconfig,
        "--id",
        "rbac-confined",
        "--store",
        path.join(work, "store"),
        "--plain"
      ],
      work
    )
    expect(apply.stderr).not.toMatch(/error|warning/i)
    expect(apply.code).toBe(0)
    expect(apply.stdout).toContain("✓ completed")
    const after = await pods()
    expect(after).toHaveLength(NODES)
    expect(after.every((p) => p.image === IMAGE("5.0.0") && p.ready)).toBe(true)
  }, 180_000)
})
