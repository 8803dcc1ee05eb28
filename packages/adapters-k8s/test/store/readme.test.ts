/**
 * The README's "Several replicas share the Kubernetes store" program is support/replica.ts (this
 * test keeps them identical; tsconfig.test.json type-checks it), and it works as the README says:
 * two replicas started at once on one rollout, one drives it, the other stands by (held by the
 * first) and both end with the rollout completed.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { describeWithCluster, useTestNamespace } from "../support/cluster.js"
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

  it("two replicas at once: one drives the rollout, the other stands by naming it; both see it completed", async () => {
    const [a, b] = await Promise.all([replica("replica-a", "readme-1"), replica("replica-b", "readme-1")])
    for (const r of [a, b]) {
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/: readme-1 completed\n$/)
    }
    // Whichever won, the other was told who held the rollout while it ran.
    const waited = [a, b].filter((r) => /held by replica-[ab]\n/.test(r.stdout))
    expect(waited.length, a.stdout + b.stdout).toBeGreaterThanOrEqual(1)
    for (const r of waited)
      expect(r.stdout).not.toMatch(new RegExp(`^(${r === a ? "replica-a" : "replica-b"}): held by \\1`, "m"))
  }, 120_000)
})
