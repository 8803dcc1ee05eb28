/**
 * The READMEs' Kubernetes examples, run as written on the test control plane:
 * - README.md "Roll a real cluster's DaemonSet": its commands, one by one, through bash with `sluice`
 *   on the PATH (the built CLI) and a home directory of the test's, whose `~/.kube/prod.yaml` has a
 *   `prod-eu` context holding a token of the ServiceAccount that `examples/k8s/rbac.yaml` (applied as
 *   the first command says, server-side) binds to its ClusterRole; its `agent.yaml` as shown, with a
 *   clean Trivy report for the image in the directory the spec names. The cluster gets what the spec
 *   names: the namespace, the DaemonSet and its container, nodes with the nodeSelector's label in
 *   three zones.
 * - packages/adapters-k8s/README.md: the `KubernetesAdapter.layer(...)` configurations (decoded
 *   strictly; the kubeconfig one built and used, at a path of the test's) and the selector, which
 *   must discover the DaemonSet it names on the nodes its nodeSelector names.
 * The commands and YAML are read from the READMEs at run time: an edit to them is tested as edited.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import {
  KubernetesObjectApi,
  type KubernetesObject,
  loadAllYaml,
  loadYaml,
  PatchStrategy,
  type V1Container
} from "@kubernetes/client-node"
import { TargetAdapter } from "@sluice/core"
import { Effect, Exit, Result, Schema } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { KubernetesAdapter, KubernetesAdapterConfig, KubernetesSelector } from "../../src/index.js"
import { describeWithCluster, kube, writeKubeconfig } from "../support/cluster.js"
import { useKwokNodes, ZONE_LABEL } from "../support/nodes.js"
import { tagsAsWritten } from "../support/tags.js"
import { notYet, waitFor } from "../support/wait.js"

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
const CLI = path.join(repoRoot, "examples", "cli", "dist", "main.js")

/** The text of a Markdown section, from its heading to the next heading of the same level. */
const section = (markdown: string, heading: string): string => {
  const start = markdown.indexOf(`\n${heading}\n`)
  if (start < 0) throw new Error(`no section "${heading}"`)
  const level = heading.split(" ")[0] ?? "##"
  const rest = markdown.slice(start + heading.length + 2)
  const end = rest.search(new RegExp(`\\n${level} `))
  return end < 0 ? rest : rest.slice(0, end)
}

/** The fenced code blocks of one language in a piece of Markdown. */
const blocks = (markdown: string, lang: string): ReadonlyArray<string> =>
  [...markdown.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1] ?? "")

const readme = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8")
const rollSection = section(readme, "## Roll a real cluster's DaemonSet")
const commands = (blocks(rollSection, "sh")[0] ?? "")
  .split("\n")
  .map((line) => line.replace(/\s+#.*$/, "").trim())
  .filter((line) => line !== "")
const agentYaml = blocks(rollSection, "yaml")[0] ?? ""

interface AgentSpec {
  readonly spec: {
    readonly target: {
      readonly selector: {
        readonly namespace: string
        readonly name: string
        readonly container: string
        readonly nodeSelector: Record<string, string>
      }
    }
    readonly artifact: { readonly image: string }
    readonly gates: { readonly scan: { readonly reportsDir: string } }
  }
}
const agent = loadYaml<AgentSpec>(agentYaml)

const adapterReadme = fs.readFileSync(path.join(repoRoot, "packages", "adapters-k8s", "README.md"), "utf8")
const layerCalls = [...(blocks(adapterReadme, "ts")[0] ?? "").matchAll(/KubernetesAdapter\.layer\((\{[^)]*\})\)/g)].map(
  (m) => JSON.parse((m[1] ?? "").replace(/(\w+):/g, '"$1":')) as Record<string, unknown>
)
const selectorYaml = blocks(section(adapterReadme, "## Selector (`spec.target.selector`)"), "yaml")[0] ?? ""
const readmeSelector = loadYaml<{ target: { selector: Record<string, unknown> } }>(selectorYaml).target.selector

const strict = { errors: "all", onExcessProperty: "error" } as const

/** A pod template the built-in policies accept, with the container the spec names. */
const template = (labels: Record<string, string>, nodeSelector: Record<string, string>, container: V1Container) => ({
  metadata: { labels },
  spec: {
    nodeSelector,
    terminationGracePeriodSeconds: 1,
    securityContext: { runAsNonRoot: true, runAsUser: 65534 },
    containers: [
      {
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
        resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "10m", memory: "16Mi" } },
        ...container
      }
    ]
  }
})

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

describeWithCluster("the READMEs' Kubernetes examples, as written", () => {
  const selector = agent.spec.target.selector
  const nodeLabels = Object.entries(selector.nodeSelector)
  // The nodes the examples name: README.md's nodeSelector label, and the adapter README's.
  const nodes = useKwokNodes(3, {
    zones: ["zone-a", "zone-b", "zone-c"],
    pools: [selector.nodeSelector["sluice.dev/pool"] ?? "general"],
    labels: Object.fromEntries(
      Object.entries((readmeSelector.nodeSelector ?? {}) as Record<string, string>).filter(
        ([k]) => k !== "sluice.dev/pool"
      )
    )
  })
  let work = ""
  let home = ""
  let bin = ""
  const applied: Array<KubernetesObject> = []
  const namespaces: Array<string> = []
  const objects = () => KubernetesObjectApi.makeApiClient(kube().config)

  /** `kubectl apply -f <file>`: every object of the file, applied server-side. */
  const kubectlApply = async (file: string) => {
    for (const obj of loadAllYaml(fs.readFileSync(path.join(repoRoot, file), "utf8")) as Array<KubernetesObject>) {
      await objects().patch(obj, undefined, undefined, "kubectl", true, PatchStrategy.ServerSideApply)
      applied.push(obj)
    }
  }

  /** One line of the README through bash, as a user's shell runs it (`~` is the test's home). */
  const shell = (line: string): { child: ReturnType<typeof spawn>; done: Promise<Ran> } => {
    const { KUBECONFIG: _k, SLUICE_STORE: _s, ...env } = process.env
    const child = spawn("bash", ["-c", line], {
      cwd: work,
      env: { ...env, HOME: home, PATH: `${bin}:${env.PATH ?? ""}`, NO_COLOR: "1" }
    })
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    const done = new Promise<Ran>((resolve, reject) => {
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
    return { child, done }
  }
  const run = (line: string) => shell(line).done

  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build it first (npx tsc -b; npm test does)`)
    work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-readme-"))
    home = path.join(work, "home")
    bin = path.join(work, "bin")
    fs.mkdirSync(path.join(home, ".kube"), { recursive: true })
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "sluice"), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`, {
      mode: 0o755
    })
    // What the spec names, on the nodes its nodeSelector names.
    const { core, apps } = kube()
    for (const [ns, name, container, nodeSelector] of [
      [selector.namespace, selector.name, selector.container, selector.nodeSelector],
      [
        String(readmeSelector.namespace),
        String(readmeSelector.name),
        String(readmeSelector.container),
        readmeSelector.nodeSelector as Record<string, string>
      ]
    ] as const) {
      await core.createNamespace({ body: { metadata: { name: ns } } })
      namespaces.push(ns)
      const labels = { app: name }
      const image = agent.spec.artifact.image.replace(/:[^:/]+$/, ":1.8.0")
      await apps.createNamespacedDaemonSet({
        namespace: ns,
        body: {
          metadata: { name, labels },
          spec: {
            selector: { matchLabels: labels },
            template: template(labels, nodeSelector, { name: container, image })
          }
        }
      })
    }
    await waitFor(
      "both DaemonSets Ready on the 3 nodes",
      async () => {
        const pods = await core.listPodForAllNamespaces({ labelSelector: `app=${selector.name}` })
        const ready = pods.items.filter(
          (p) =>
            namespaces.includes(p.metadata?.namespace ?? "") &&
            p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        )
        return ready.length === 6 ? true : notYet(ready.length)
      },
      { timeoutMs: 90_000 }
    )
    // The scan gate's report: a Trivy report of the image without findings, where the spec says.
    const reports = path.join(work, agent.spec.gates.scan.reportsDir)
    fs.mkdirSync(reports)
    fs.writeFileSync(
      path.join(reports, "node-exporter.json"),
      JSON.stringify({
        SchemaVersion: 2,
        ArtifactName: agent.spec.artifact.image,
        ArtifactType: "container_image",
        Results: []
      })
    )
    fs.writeFileSync(path.join(work, "agent.yaml"), agentYaml)
  }, 150_000)

  afterAll(async () => {
    const { core } = kube()
    for (const ns of namespaces) await core.deleteNamespace({ name: ns }).catch(() => undefined)
    for (const obj of applied.reverse())
      await objects()
        .delete(obj)
        .catch(() => undefined)
    if (work !== "") fs.rmSync(work, { recursive: true, force: true })
    await waitFor(
      "the examples' namespaces to be deleted",
      async () => {
        const left = (await core.listNamespace()).items.filter((n) =>
          [...namespaces, ...applied.filter((o) => o.kind === "Namespace").map((o) => o.metadata?.name)].includes(
            n.metadata?.name ?? ""
          )
        )
        return left.length === 0 ? true : notYet(left.map((n) => n.metadata?.name))
      },
      { timeoutMs: 60_000 }
    ).catch((error: unknown) => console.warn(String(error)))
  }, 90_000)

  it("README.md: kubectl apply rbac.yaml, sluice plan, sluice apply, sluice status, sluice promote — the DaemonSet rolled zone by zone", async () => {
    expect(commands.map((c) => c.split(" ").slice(0, 2).join(" "))).toEqual([
      "kubectl apply",
      "sluice plan",
      "sluice apply",
      "sluice status",
      "sluice promote"
    ])
    let apply: Promise<Ran> | undefined
    let rolloutId = ""
    for (const line of commands) {
      const [program, verb, ...args] = line.split(/\s+/)
      if (program === "kubectl") {
        expect(verb).toBe("apply")
        expect(args[0]).toBe("-f")
        await kubectlApply(args[1] ?? "")
        // The file's ServiceAccount gets the token the user's kubeconfig holds.
        const sa = applied.find((o) => o.kind === "ServiceAccount")
        const token = (
          await kube().core.createNamespacedServiceAccountToken({
            name: sa?.metadata?.name ?? "",
            namespace: sa?.metadata?.namespace ?? "",
            body: { spec: { expirationSeconds: 3600 } }
          })
        ).status?.token
        const cluster = kube().config.getCurrentCluster()
        const kubeconfigArg = /--kubeconfig\s+(\S+)/.exec(commands.join("\n"))?.[1] ?? ""
        const contextArg = /--context\s+(\S+)/.exec(commands.join("\n"))?.[1] ?? ""
        expect(kubeconfigArg.startsWith("~/")).toBe(true)
        fs.writeFileSync(
          path.join(home, kubeconfigArg.slice(2)),
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
              { name: "prod", cluster: { server: cluster?.server, "certificate-authority-data": cluster?.caData } }
            ],
            users: [{ name: "sluice", user: { token } }],
            contexts: [{ name: contextArg, context: { cluster: "prod", user: "sluice" } }],
            "current-context": contextArg
          }),
          { mode: 0o600 }
        )
      } else if (verb === "plan") {
        const plan = await run(line)
        expect(plan.stderr).not.toMatch(/error|warning/i)
        expect(plan.code, plan.stderr).toBe(0)
        expect(plan.stdout).toContain("3 target(s) to update")
        expect(plan.stdout).toContain(`nodes per zone (${ZONE_LABEL}): zone-a 1, zone-b 1, zone-c 1`)
      } else if (verb === "apply") {
        // Runs until the rollout ends; the next commands come "from another shell". The README's
        // image is on a registry this test cannot reach (a real cluster's is): its tag is deployed
        // as written instead of resolved to its digest (test/adapter/digest.test.ts covers that).
        apply = run(`${line} ${tagsAsWritten().join(" ")}`)
      } else if (verb === "status") {
        // Once the canary wave is done the rollout waits in its timed pause.
        const status = await waitFor(
          "the rollout paused after its canary wave",
          async () => {
            const s = await run("sluice status --json")
            const parsed = s.code === 0 ? (JSON.parse(s.stdout) as { rolloutId?: string; state?: string } | null) : null
            return /pausedTimed$/.test(parsed?.state ?? "") ? parsed : notYet(s.stdout || s.stderr)
          },
          { timeoutMs: 120_000, intervalMs: 1000 }
        )
        rolloutId = status?.rolloutId ?? ""
        const shown = await run(line)
        expect(shown.code, shown.stderr).toBe(0)
        expect(shown.stdout).toContain(rolloutId)
      } else if (verb === "promote") {
        const promoted = await run(line.replace("<id>", rolloutId))
        expect(promoted.code, promoted.stderr).toBe(0)
      } else throw new Error(`the test does not know how to run: ${line}`)
    }
    const done = await apply
    expect(done?.code, `${done?.stdout}\n${done?.stderr}`).toBe(0)
    expect(done?.stdout).toContain("completed")
    const pods = await kube().core.listNamespacedPod({
      namespace: selector.namespace,
      labelSelector: `app=${selector.name}`
    })
    const live = pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined)
    expect(live).toHaveLength(3)
    for (const p of live)
      expect(p.spec?.containers.find((c) => c.name === selector.container)?.image).toBe(agent.spec.artifact.image)
    const ds = await kube().apps.readNamespacedDaemonSet({ name: selector.name, namespace: selector.namespace })
    expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
  }, 300_000)

  it("packages/adapters-k8s/README.md: the layer configurations decode, the kubeconfig one reaches the cluster, the selector finds its DaemonSet", async () => {
    expect(layerCalls.length).toBeGreaterThanOrEqual(2)
    for (const call of layerCalls)
      expect(
        Result.isSuccess(Schema.decodeUnknownResult(KubernetesAdapterConfig, strict)(call)),
        JSON.stringify(call)
      ).toBe(true)
    const decoded = Schema.decodeUnknownResult(KubernetesSelector, strict)(readmeSelector)
    expect(Result.isSuccess(decoded), JSON.stringify(readmeSelector)).toBe(true)

    const discover = (config: Parameters<typeof KubernetesAdapter.layer>[0]) =>
      Effect.runPromiseExit(
        Effect.gen(function* () {
          const adapter = yield* TargetAdapter
          return yield* adapter.discover(readmeSelector)
        }).pipe(Effect.provide(KubernetesAdapter.layer(config)))
      )
    // The kubeconfig + context form, with the kubeconfig at a path of the test's.
    const byFile = layerCalls.find((c) => c.kubeconfig !== undefined) ?? {}
    const user = kube().config.getCurrentUser()
    const file = writeKubeconfig(path.join(work, "sluice.kubeconfig"), {
      user: { name: "admin", user: { "client-certificate-data": user?.certData, "client-key-data": user?.keyData } },
      context: String(byFile.context),
      // Only the context the README names leads to the cluster: the current one does not exist.
      currentContext: "none"
    })
    const found = await discover({ ...byFile, kubeconfig: file })
    expect(Exit.isSuccess(found), String(found)).toBe(true)
    if (Exit.isSuccess(found))
      expect(found.value.map((t) => t.id).sort()).toEqual(
        nodes()
          .names.map((n) => `${readmeSelector.namespace}/daemonset/${readmeSelector.name}/${n}`)
          .sort()
      )
    // The in-cluster form, outside a pod: an error naming the missing service account token.
    const inCluster = layerCalls.find((c) => c.inCluster === true)
    expect(inCluster).toBeDefined()
    const refused = await discover(inCluster ?? {})
    expect(Exit.isFailure(refused)).toBe(true)
    expect(String(refused)).toContain("/var/run/secrets/kubernetes.io/serviceaccount/token")
    // Nodes without the nodeSelector's labels are no targets (every node of this test has them).
    expect(nodeLabels.length).toBeGreaterThan(0)
  }, 120_000)
})
