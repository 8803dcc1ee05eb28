/**
 * `sluice --store kubernetes://<namespace>` (the built CLI): a rollout on the simulated fleet whose
 * journal is in the test cluster; `status`, `approve` and `list` from other processes reach it
 * through the store, with the same --kubeconfig the Kubernetes adapter takes.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import { describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { notYet, waitFor } from "../support/wait.js"
import { kubeconfigPath, tmpDir } from "./support/store.js"

const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url))
const CLI = path.join(repoRoot, "examples", "cli", "dist", "main.js")

const SPEC = `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: simulated }
  artifact: { image: registry.sluice.dev/agents/agent:2.0.0 }
  strategy:
    rolling: { batchSize: 25%, maxUnavailable: 25% }
  gates:
    manualApproval: { before: [2] }
    scan: { enabled: false }
`

describeWithCluster("sluice --store kubernetes://<namespace>", () => {
  const namespace = useTestNamespace("sluice-store-cli")
  const work = tmpDir()
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

  /** Runs the built CLI with no ambient kubeconfig or store: only what the arguments say. */
  const sluice = (...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      if (!fs.existsSync(CLI)) return reject(new Error(`${CLI} is missing: build it first (npx tsc -b)`))
      const { KUBECONFIG: _k, SLUICE_STORE: _s, ...env } = process.env
      const child = spawn(process.execPath, [CLI, ...args], { cwd: work, env: { ...env, NO_COLOR: "1" } })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (b: Buffer) => {
        stdout += b.toString()
      })
      child.stderr.on("data", (b: Buffer) => {
        stderr += b.toString()
      })
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })

  it("apply waits for an approval sent by another process through the cluster, then completes; status and list read it", async () => {
    fs.writeFileSync(path.join(work, "agent.yaml"), SPEC)
    const store = ["--store", `kubernetes://${namespace()}`, "--kubeconfig", kubeconfigPath()]
    const apply = sluice("apply", "-f", "agent.yaml", "--fleet-size", "8", "--id", "agent-1", "--plain", ...store)
    await waitFor(
      "the rollout to wait for its approval",
      async () => {
        const s = await sluice("status", "agent-1", "--json", ...store)
        return s.code === 0 && JSON.parse(s.stdout).awaitingApproval === true ? true : notYet(s.stdout || s.stderr)
      },
      { timeoutMs: 60_000 }
    )
    // The rollout's journal and lease are in the cluster.
    const head = await kube().core.readNamespacedConfigMap({ name: "sluice-agent-1", namespace: namespace() })
    expect(JSON.parse(head.data?.["head.json"] ?? "{}").rolloutId).toBe("agent-1")
    const approved = await sluice("approve", "agent-1", ...store)
    expect(approved.code, approved.stderr).toBe(0)
    const done = await apply
    expect(done.code, done.stderr).toBe(0)
    const status = await sluice("status", "agent-1", "--json", ...store)
    expect(JSON.parse(status.stdout).outcome).toBe("completed")
    const list = await sluice("list", ...store)
    expect(list.stdout).toMatch(/agent-1\s+completed/)
  }, 120_000)

  it("a store URL that names no namespace is a usage error", async () => {
    const r = await sluice("list", "--store", "kubernetes://Not_A_Namespace", "--kubeconfig", kubeconfigPath())
    expect(r.code).toBe(64)
    expect(r.stderr).toMatch(/kubernetes:\/\/<namespace>/)
  })
})
