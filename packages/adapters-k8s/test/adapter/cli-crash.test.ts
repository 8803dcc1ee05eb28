/**
 * `kill -9` of the `sluice` CLI in the middle of a DaemonSet rollout, then `sluice resume <id>`:
 * the rollout finishes on the same cluster (the CLI kept the connection, not the credentials), and
 * the apiserver's own watch shows no pod deleted twice.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { beforeAll, expect, it } from "vitest"
import { clusterInfo, describeWithCluster, kube } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { tagsAsWritten } from "../support/tags.js"
import { createAgentDaemonSet, IMAGE, podImages, watchPods } from "./support/daemonset.js"

const CLI = fileURLToPath(new URL("../../../../examples/cli/dist/main.js", import.meta.url))
const NODES = 16

/** Runs the built CLI; with `killAfter`, SIGKILLs it once that many targets were applied. */
const sluice = (args: ReadonlyArray<string>, cwd: string, killAfter?: number) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; applied: number; output: string }>(
    (resolve, reject) => {
      const { KUBECONFIG: _k, SLUICE_STORE: _s, ...env } = process.env
      const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...env, NO_COLOR: "1" } })
      let applied = 0
      let output = ""
      child.stderr.on("data", (d: Buffer) => {
        output += d.toString()
      })
      createInterface({ input: child.stdout }).on("line", (line) => {
        output += `${line}\n`
        if (killAfter === undefined || applied >= killAfter) return
        const event = JSON.parse(line) as { type?: string }
        if (event.type === "targetApplied" && ++applied === killAfter) child.kill("SIGKILL")
      })
      child.on("error", reject)
      child.on("close", (code, signal) => resolve({ code, signal, applied, output }))
    }
  )

describeWithCluster("the sluice CLI killed with SIGKILL mid-rollout, then `sluice resume`", () => {
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b"] })
  let namespace = ""
  beforeAll(async () => {
    namespace = `sluice-cli-crash-${Math.random().toString(16).slice(2, 8)}`
    await kube().core.createNamespace({ body: { metadata: { name: namespace } } })
  })

  it("finishes the rollout without deleting any pod twice", async () => {
    const name = "agent"
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool: nodes().pools[0] ?? "", nodes: NODES })
    const watch = await watchPods(namespace, name, nodes().names)
    try {
      const work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-cli-crash-"))
      fs.writeFileSync(
        path.join(work, "agent.yaml"),
        `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: kubernetes, selector: { namespace: ${namespace}, kind: DaemonSet, name: ${name} } }
  artifact: { image: "${IMAGE("2.0.0")}" }
  strategy: { rolling: { batchSize: 2, maxUnavailable: 2 } }
  health: { progressDeadline: 60s, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`
      )
      const store = path.join(work, "store")
      const killed = await sluice(
        [
          "apply",
          "-f",
          "agent.yaml",
          "--kubeconfig",
          clusterInfo().kubeconfig ?? "",
          ...tagsAsWritten(),
          "--id",
          "cli-crash",
          "--store",
          store,
          "--json"
        ],
        work,
        5
      )
      expect(killed.signal).toBe("SIGKILL")
      expect(killed.applied).toBe(5)
      const resumed = await sluice(["resume", "cli-crash", "--store", store, "--json"], work)
      expect(resumed.code, resumed.output).toBe(0)
      const deletions = watch.deletions()
      expect(deletions).toHaveLength(NODES)
      expect(new Set(deletions.map((d) => d.node)).size).toBe(NODES)
      expect(deletions.every((d) => d.image === IMAGE("1.0.0"))).toBe(true)
      const pods = await podImages(namespace, name)
      expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
      const ds = await kube().apps.readNamespacedDaemonSet({ name, namespace })
      expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
    } finally {
      watch.stop()
    }
  }, 240_000)
})
