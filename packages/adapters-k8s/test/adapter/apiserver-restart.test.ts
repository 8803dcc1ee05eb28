/**
 * The apiserver restarts in the middle of a DaemonSet rollout. This file starts a control plane
 * of its own (restarting the shared one would disturb the other test files running beside it).
 */
import { execFile } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { AppsV1Api, CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithCluster } from "../support/cluster.js"
import { createKwokNodes } from "../support/nodes.js"
import { createAgentDaemonSet, IMAGE, podImages } from "./support/daemonset.js"
import { runRollout } from "./support/rollout.js"

const NODES = 30
const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..")
const script = (name: string) => join(repo, "scripts", "kube", name)

const bash = (...args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile("bash", args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${args.join(" ")}: ${stderr}`)) : resolve(stdout)
    )
  )

describeWithCluster("kubernetes adapter: apiserver restart", () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-kube-restart-"))
  let kubeconfig = ""
  let core: CoreV1Api
  let apps: AppsV1Api
  let pool = ""

  beforeAll(async () => {
    kubeconfig =
      (await bash(script("cluster-up.sh"), dir, "--owner-pid", String(process.pid))).trim().split("\n").at(-1) ?? ""
    const config = new KubeConfig()
    config.loadFromFile(kubeconfig)
    core = config.makeApiClient(CoreV1Api)
    apps = config.makeApiClient(AppsV1Api)
    pool = (await createKwokNodes(NODES, { zones: ["zone-a", "zone-b"], core })).pools[0] ?? ""
    await core.createNamespace({ body: { metadata: { name: "agents" } } })
  }, 120_000)
  afterAll(() => bash(script("cluster-down.sh"), dir), 60_000)

  it("finishes the rollout across a restart of kube-apiserver (watches resume, calls retried)", async () => {
    const name = "agent"
    await createAgentDaemonSet({ namespace: "agents", name, image: IMAGE("1.0.0"), pool, nodes: NODES, apps })
    let restart: Promise<string> | undefined
    const run = await runRollout({
      adapter: { kubeconfig },
      spec: `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${name} }
spec:
  target: { adapter: kubernetes, selector: { namespace: agents, kind: DaemonSet, name: ${name} } }
  artifact: { image: "${IMAGE("2.0.0")}" }
  strategy: { rolling: { batchSize: 5, maxUnavailable: 5 } }
  health: { progressDeadline: 120s, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`,
      rolloutId: "ds-apiserver-restart",
      operations: { retries: 30 },
      onEvent: (e) => {
        // Down for 3 s right after the second wave started: its pods are being replaced.
        if (e.type === "waveStarted" && e.wave === 1 && restart === undefined)
          restart = bash(script("restart-component.sh"), dir, "kube-apiserver", "3")
      }
    })
    expect(restart).toBeDefined()
    await restart
    expect(run.result.outcome).toBe("completed")
    expect(run.result.updated).toHaveLength(NODES)
    const pods = await podImages("agents", name, core)
    expect(pods).toHaveLength(NODES)
    expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
    const ds = await apps.readNamespacedDaemonSet({ name, namespace: "agents" })
    expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
  }, 300_000)
})
