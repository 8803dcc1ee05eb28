/**
 * The README's "Several replicas share the Kubernetes store" program is support/replica.ts (this
 * test keeps them identical; tsconfig.test.json type-checks it), and it works as the README says:
 * two replicas on one rollout (the second started once the first holds it): one drives it, the other stands by (held by the
 * first) and both end with the rollout completed.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { CoordinationV1Api } from "@kubernetes/client-node"
import { describeWithCluster, kube, useTestNamespace } from "../support/cluster.js"
import { notYet, waitFor } from "../support/wait.js"
import { kubeconfigPath } from "./support/store.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const README = path.join(here, "..", "..", "..", "..", "README.md")
const PROGRAM = path.join(here, "support", "replica.ts")
const HEADING = "\n### Several replicas share the Kubernetes store\n"

/** The first ```ts block after the heading. */
const readmeBlock = (readme: string): string => {
  const at = readme.indexOf(HEADING)
  if (at < 0) throw new Error(`README.md has no "${HEADING.trim()}" section`)
  const start = readme.indexOf("\n```ts\n", at)
  const next = readme.indexOf("\n## ", at + 1)
  if (start < 0 || (next >= 0 && start > next)) throw new Error("that section has no ```ts block")
  const end = readme.indexOf("\n```\n", start + 1)
  return readme.slice(start + "\n```ts\n".length, end + 1)
}

describe("the README's two-replica example", () => {
  it("is exactly test/store/support/replica.ts", () => {
    expect(readmeBlock(fs.readFileSync(README, "utf8"))).toBe(fs.readFileSync(PROGRAM, "utf8"))
  })
})

describeWithCluster("the README's two-replica example, run", () => {
  const namespace = useTestNamespace("sluice-store-readme")

  const replica = (name: string, rolloutId: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [PROGRAM, rolloutId], {
        cwd: here,
        env: { ...process.env, POD_NAME: name, SLUICE_NAMESPACE: namespace(), KUBECONFIG: kubeconfigPath() }
      })
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

  it("two replicas: one drives the rollout, the other stands by naming it; both see it completed", async () => {
    const first = replica("replica-a", "readme-1")
    // The second starts once the first holds the rollout (its run then lasts seconds: minReadySeconds).
    await waitFor("replica-a to hold the rollout", async () => {
      const lease = await kube()
        .config.makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ name: "sluice-readme-1", namespace: namespace() })
      return lease.spec?.holderIdentity === "replica-a" ? true : notYet(lease.spec)
    })
    const [a, b] = await Promise.all([first, replica("replica-b", "readme-1")])
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/: readme-1 completed\n$/)
    }
    // replica-b stood by while replica-a drove it.
    expect(b.stdout).toMatch(/^replica-b: held by replica-a$/m)
    expect(a.stdout).not.toMatch(/held by/)
  }, 120_000)
})
