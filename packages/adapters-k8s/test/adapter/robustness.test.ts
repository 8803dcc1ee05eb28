/**
 * The process running a rollout killed with SIGKILL mid-rollout, then resumed from its journal.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { makeFileStore } from "@sluice/core"
import { beforeAll, expect, it } from "vitest"
import { clusterInfo, describeWithCluster, kube } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { createAgentDaemonSet, IMAGE, podImages, watchPods } from "./support/daemonset.js"
import { resume } from "./support/rollout.js"

const NODES = 40
const here = dirname(fileURLToPath(import.meta.url))

const spec = (namespace: string, name: string, image: string, deadline = "60s") => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${name} }
spec:
  target: { adapter: kubernetes, selector: { namespace: ${namespace}, kind: DaemonSet, name: ${name} } }
  artifact: { image: "${image}" }
  strategy: { rolling: { batchSize: 5, maxUnavailable: 5 } }
  health: { progressDeadline: ${deadline}, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`

/** Runs the rollout in a child process and kills it with SIGKILL once `after` targets were applied. */
const runAndKill = (args: object, after: number) =>
  new Promise<{ applied: number }>((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [join(here, "support", "rollout-child.mjs"), JSON.stringify(args)],
      {
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let applied = 0
    let stderr = ""
    child.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString()
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const event = JSON.parse(line) as { type: string }
      // Lines already in the pipe still arrive after the kill: count only up to it.
      if (event.type === "targetApplied" && applied < after && ++applied === after) child.kill("SIGKILL")
      if (event.type === "result") reject(new Error("the rollout finished before it could be killed"))
    })
    child.on("exit", (code, signal) =>
      signal === "SIGKILL" ? resolve({ applied }) : reject(new Error(`child exited ${code}: ${stderr}`))
    )
  })

describeWithCluster("kubernetes adapter: kill -9 and resume", () => {
  const nodes = useKwokNodes(NODES, { zones: ["zone-a", "zone-b"] })
  let namespace = ""
  beforeAll(async () => {
    namespace = `sluice-robust-${Math.random().toString(16).slice(2, 8)}`
    await kube().core.createNamespace({ body: { metadata: { name: namespace } } })
  })

  it("kill -9 mid-rollout, then resume from the journal: finishes, and no pod is deleted twice", async () => {
    const name = "agent-crash"
    await createAgentDaemonSet({ namespace, name, image: IMAGE("1.0.0"), pool: nodes().pools[0] ?? "", nodes: NODES })
    const watch = await watchPods(namespace, name, nodes().names)
    try {
      const storeDir = mkdtempSync(join(tmpdir(), "sluice-k8s-crash-"))
      const rolloutId = "ds-crash"
      const yaml = spec(namespace, name, IMAGE("2.0.0"))
      const killed = await runAndKill({ kubeconfig: clusterInfo().kubeconfig, spec: yaml, rolloutId, storeDir }, 12)
      expect(killed.applied).toBe(12)
      const done = await resume({ spec: yaml, rolloutId, store: makeFileStore(storeDir) })
      expect(done.result.outcome).toBe("completed")
      expect(done.result.updated).toHaveLength(NODES)
      // The cluster's own record: every node's old pod deleted exactly once, no new pod deleted.
      const deletions = watch.deletions()
      expect(deletions.every((d) => d.image === IMAGE("1.0.0"))).toBe(true)
      expect(new Set(deletions.map((d) => d.node)).size).toBe(deletions.length)
      expect(deletions).toHaveLength(NODES)
      expect(watch.maxUnavailable()).toBeLessThanOrEqual(5)
      const pods = await podImages(namespace, name)
      expect(pods.every((p) => p.image === IMAGE("2.0.0") && p.ready)).toBe(true)
      const ds = await kube().apps.readNamespacedDaemonSet({ name, namespace })
      expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
    } finally {
      watch.stop()
    }
  }, 300_000)
})
