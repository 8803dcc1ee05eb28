/**
 * The apiserver stops in the middle of a rollout whose journal is in the Kubernetes store, for
 * longer than the lease: the holder cannot write (it waits), then either renews its lease and goes
 * on, or finds it taken over and stops; never two writers. This file starts a control plane of its
 * own (stopping the shared one would disturb the other test files running beside it).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, expect, it } from "vitest"
import { describeWithCluster } from "../support/cluster.js"
import { tmpDir } from "./support/store.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const repo = path.join(here, "..", "..", "..", "..")
const ENGINE = path.join(here, "support", "store-engine.mjs")
const script = (name: string) => path.join(repo, "scripts", "kube", name)
const SIZE = 12

const bash = (...args: string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile("bash", args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${args.join(" ")}: ${stderr}`)) : resolve(stdout)
    )
  )

interface Line {
  readonly type: string
  readonly owner?: string
  readonly wave?: number
  readonly result?: { outcome: string }
  readonly message?: string
}

describeWithCluster("Kubernetes store: the apiserver stops mid-rollout for longer than the lease", () => {
  const dir = tmpDir()
  const work = tmpDir()
  let kubeconfig = ""
  const children: ChildProcess[] = []

  beforeAll(async () => {
    kubeconfig =
      (await bash(script("cluster-up.sh"), dir, "--owner-pid", String(process.pid))).trim().split("\n").at(-1) ?? ""
  }, 120_000)
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    await bash(script("cluster-down.sh"), dir)
    fs.rmSync(work, { recursive: true, force: true })
  }, 60_000)

  const engine = (args: Record<string, unknown>, onLine?: (l: Line) => void) => {
    const child = spawn(
      process.execPath,
      [ENGINE, JSON.stringify({ kubeconfig, namespace: "default", leaseDurationSeconds: 2, size: SIZE, ...args })],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    children.push(child)
    const lines: Line[] = []
    let stderr = ""
    child.stderr!.on("data", (b: Buffer) => {
      stderr += b.toString()
    })
    createInterface({ input: child.stdout! }).on("line", (text) => {
      const line = JSON.parse(text) as Line
      lines.push(line)
      onLine?.(line)
    })
    return new Promise<{ code: number | null; lines: Line[]; stderr: string }>((resolve) =>
      child.on("close", (code) => resolve({ code, lines, stderr }))
    )
  }

  it("the holder waits through the outage, then resumes or stops on a lost lease; another takes over only then; every target updated once", async () => {
    const fleetFile = path.join(work, "fleet.ndjson")
    let outage: Promise<string> | undefined
    const holder = engine({ mode: "start", rolloutId: "outage", identity: "engine-a", fleetFile }, (l) => {
      // Down for 6 s (three lease durations) right after the second wave started.
      if (l.type === "waveStarted" && l.wave === 1 && outage === undefined)
        outage = bash(script("restart-component.sh"), dir, "kube-apiserver", "6")
    })
    let a: Awaited<typeof holder> | undefined
    void holder.then((r) => {
      a = r
    })
    // Wait for the outage to begin and end.
    while (outage === undefined && a === undefined) await new Promise((r) => setTimeout(r, 20))
    expect(outage, "the rollout reached its second wave").toBeDefined()
    await outage
    // Then others try to take the rollout over, one at a time, until it is finished.
    const others: Array<{ code: number | null; lines: Line[]; stderr: string }> = []
    for (let k = 0; k < 40; k++) {
      const done = others.some((o) => o.code === 0) || a?.code === 0
      if (done && a !== undefined) break
      const o = await engine({ mode: "resume", rolloutId: "outage", identity: `engine-b-${k}`, fleetFile })
      others.push(o)
      if (o.code !== 0) await new Promise((r) => setTimeout(r, 300))
    }
    a ??= await holder
    const took = others.filter((o) => o.code === 0)
    if (a.code === 0) {
      // The holder renewed its lease when the apiserver came back and finished the rollout.
      expect(a.lines.at(-1)?.result?.outcome).toBe("completed")
    } else {
      // The holder found its lease taken over: it stopped writing, with a StoreError saying so.
      expect(a.code, a.stderr).toBe(1)
      expect(a.lines.at(-1)?.message).toMatch(/lease of rollout outage (was lost|could not be renewed)/)
      expect(took.length, "another engine finished it").toBeGreaterThan(0)
    }
    for (const o of others) {
      if (o.code === 0) expect(o.lines.at(-1)?.result?.outcome).toBe("completed")
      // Refused while a live engine holds it (naming it), or told its read was stale.
      else if (o.code === 64) expect(o.lines.at(-1)?.owner).toMatch(/^engine-/)
      else expect(o.lines.at(-1)?.message, o.stderr).toMatch(/since it was read|lease of rollout outage/)
    }
    // Ground truth: every target on the new version, updated exactly once.
    const last = new Map<string, { image: string; history: Array<{ via: string }> }>()
    for (const line of fs.readFileSync(fleetFile, "utf8").split("\n")) {
      if (line.trim() === "") continue
      const { id, s } = JSON.parse(line)
      last.set(id, s)
    }
    expect(last.size).toBe(SIZE)
    for (const [id, s] of last) {
      expect(s.image, id).toBe("registry.sluice.dev/agents/agent:2.0.0")
      expect(
        s.history.filter((h) => h.via === "apply"),
        `${id} updated once`
      ).toHaveLength(1)
    }
  }, 180_000)
})
