/**
 * Engine processes sharing one rollout through the Kubernetes store (the built packages in child
 * processes, support/store-engine.mjs, on a simulated fleet persisted to a file that is the ground
 * truth): one proceeds and the other is refused naming the holder; kill -9 of the holder lets
 * another take over once its lease expired, and the rollout completes with no target updated twice.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import { describeWithCluster, useTestNamespace } from "../support/cluster.js"
import { kubeconfigPath, openStore, run as runEffect, tmpDir } from "./support/store.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const ENGINE = path.join(here, "support", "store-engine.mjs")
const SIZE = 12
const LEASE_SECONDS = 3

interface Line {
  readonly type: string
  readonly owner?: string
  readonly wave?: number
  readonly result?: { outcome: string }
  readonly message?: string
}

interface Engine {
  readonly child: ChildProcess
  readonly lines: Line[]
  readonly done: Promise<{ code: number | null; lines: Line[]; stderr: string }>
  /** Resolves at the first line matching. */
  readonly when: (pred: (l: Line) => boolean) => Promise<Line>
}

const engine = (args: Record<string, unknown>): Engine => {
  const child = spawn(process.execPath, [ENGINE, JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] })
  const lines: Line[] = []
  const waiters: Array<{ pred: (l: Line) => boolean; resolve: (l: Line) => void }> = []
  let stderr = ""
  child.stderr!.on("data", (b: Buffer) => {
    stderr += b.toString()
  })
  createInterface({ input: child.stdout! }).on("line", (text) => {
    const line = JSON.parse(text) as Line
    lines.push(line)
    for (const w of [...waiters]) {
      if (w.pred(line)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(line)
      }
    }
  })
  const done = new Promise<{ code: number | null; lines: Line[]; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, lines, stderr }))
  )
  const when = (pred: (l: Line) => boolean) =>
    new Promise<Line>((resolve, reject) => {
      const found = lines.find(pred)
      if (found !== undefined) return resolve(found)
      waiters.push({ pred, resolve })
      void done.then(({ code, stderr }) => reject(new Error(`engine exited (${code}) first: ${stderr.slice(-2000)}`)))
    })
  return { child, lines, done, when }
}

/** Each target's version changes, from the fleet file (the last state line per target). */
const groundTruth = (fleetFile: string) => {
  const last = new Map<string, { image: string; history: Array<{ image: string; via: string }> }>()
  for (const line of fs.readFileSync(fleetFile, "utf8").split("\n")) {
    if (line.trim() === "") continue
    try {
      const { id, s } = JSON.parse(line)
      last.set(id, s)
    } catch {
      // a torn last line of the killed process
    }
  }
  return last
}

describeWithCluster("engine processes sharing a rollout through the Kubernetes store", () => {
  const namespace = useTestNamespace("sluice-store-engines")
  const work = tmpDir()
  const children: ChildProcess[] = []
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill("SIGKILL")
    fs.rmSync(work, { recursive: true, force: true })
  })
  const run = (args: Record<string, unknown>) => {
    const e = engine({
      kubeconfig: kubeconfigPath(),
      namespace: namespace(),
      leaseDurationSeconds: LEASE_SECONDS,
      size: SIZE,
      ...args
    })
    children.push(e.child)
    return e
  }

  it("two engines on one rollout: one proceeds, the other exits RolloutLocked naming the holder", async () => {
    const fleetFile = path.join(work, "two.ndjson")
    // It waits for an approval before its second wave: engine-a holds it for as long as the test likes.
    const a = run({ mode: "start", rolloutId: "two", identity: "engine-a", fleetFile, approval: true })
    await a.when((l) => l.type === "awaitingApproval")
    const b = run({ mode: "resume", rolloutId: "two", identity: "engine-b", fleetFile })
    const second = await b.done
    expect(second.code, second.stderr).toBe(64)
    expect(second.lines.at(-1)).toEqual({ type: "locked", owner: "engine-a" })
    // The approval reaches the running engine through the store, from this process.
    const operator = await openStore(namespace())
    await runEffect(operator.sendControl("two", { id: "approve-1", signal: "APPROVE", at: Date.now() }))
    const first = await a.done
    expect(first.code, first.stderr).toBe(0)
    expect(first.lines.at(-1)?.result?.outcome).toBe("completed")
    expect(first.lines.filter((l) => l.type === "waveStarted")).toHaveLength(6)
    const truth = groundTruth(fleetFile)
    expect(truth.size).toBe(SIZE)
    for (const [id, s] of truth) {
      expect(s.image, id).toBe("registry.sluice.dev/agents/agent:2.0.0")
      expect(
        s.history.filter((h) => h.via === "apply"),
        id
      ).toHaveLength(1)
    }
  })

  it("kill -9 of the holder: refused while its lease is fresh, taken over after it, completed with no target updated twice", async () => {
    const fleetFile = path.join(work, "killed.ndjson")
    const a = run({ mode: "start", rolloutId: "killed", identity: "engine-a", fleetFile })
    // Mid-rollout: the second wave has started, the first is done.
    await a.when((l) => l.type === "waveStarted" && l.wave === 1)
    a.child.kill("SIGKILL")
    await a.done
    // At once: the dead holder's lease has not expired yet.
    const early = run({ mode: "resume", rolloutId: "killed", identity: "engine-b", fleetFile })
    const refused = await early.done
    // (Were the lease already expired here, the machine would have to be very slow: then it is
    // taken over, which the loop below accepts too.)
    if (refused.code === 64) expect(refused.lines.at(-1)).toEqual({ type: "locked", owner: "engine-a" })
    let finished: { code: number | null; lines: Line[]; stderr: string } | undefined =
      refused.code === 0 ? refused : undefined
    // Three resumers at once, again and again, until one takes over: each either drives the rollout
    // to its end or is refused naming another engine (the dead one, or the one that won).
    for (let round = 0; finished === undefined && round < 30; round++) {
      const racers = ["c", "d", "e"].map((n) =>
        run({ mode: "resume", rolloutId: "killed", identity: `engine-${n}-${round}`, fleetFile })
      )
      const outcomes = await Promise.all(racers.map((r) => r.done))
      for (const [i, o] of outcomes.entries()) {
        if (o.code === 0) {
          finished ??= o
          continue
        }
        // The one that won finished and released between this one's read and its acquire: the
        // journal it read is stale, and it is told so instead of driving from it.
        if (o.code === 1 && /since it was read/.test(o.lines.at(-1)?.message ?? "")) continue
        expect(o.code, o.stderr + JSON.stringify(o.lines.at(-1))).toBe(64)
        const owner = o.lines.at(-1)?.owner
        expect(owner).toMatch(/^engine-/)
        expect(owner).not.toBe(`engine-${["c", "d", "e"][i]}-${round}`)
      }
      if (finished === undefined) await new Promise((r) => setTimeout(r, 500))
    }
    expect(finished, "a resumer took the rollout over").toBeDefined()
    expect(finished!.lines.at(-1)?.result?.outcome).toBe("completed")
    const truth = groundTruth(fleetFile)
    expect(truth.size).toBe(SIZE)
    for (const [id, s] of truth) {
      expect(s.image, id).toBe("registry.sluice.dev/agents/agent:2.0.0")
      expect(
        s.history.filter((h) => h.via === "apply"),
        `${id} updated once`
      ).toHaveLength(1)
    }
  }, 120_000)
})
