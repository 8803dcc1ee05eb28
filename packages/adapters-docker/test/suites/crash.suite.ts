/**
 * A process killed with SIGKILL in the middle of applies, then the apply run again (as `sluice
 * resume` does): it completes with no duplicate and no lost container, and rollback still restores
 * the originals. The applying process is real (node, the built package) and so is the kill.
 */
import { execFileSync, spawn } from "node:child_process"
import * as path from "node:path"
import type { Target } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ASIDE_MARK, type DockerAdapterShape, makeDockerAdapter, rolloutKey } from "../../src/index.js"
import {
  containerNames,
  engineReady,
  inspect,
  type Json,
  removeSuiteContainers,
  repoRoot,
  socketPath
} from "../support/engine.js"
import { createAgent } from "../support/fleet.js"
import { artifactOf, waitHealth } from "../support/waves.js"

const SUITE = "crash"
const NAMES = ["cr-agent-0", "cr-agent-1", "cr-agent-2"]
const target = (name: string): Target => ({ id: `local/${name}`, name, labels: {} })

/** Starts the child, waits for "ready", lets it run `delayMs`, then SIGKILLs it. Returns what it reported. */
const applyAndKill = (rolloutId: string, image: string, delayMs: number) =>
  new Promise<{ lines: Array<string>; killed: boolean }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [path.join(repoRoot, "packages/adapters-docker/test/support/apply-child.mjs")],
      {
        cwd: repoRoot,
        env: {
          ...process.env,
          SLUICE_CHILD_JOB: JSON.stringify({ socket: socketPath, names: NAMES, image, rolloutId, mode: "replace" })
        },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    const lines: Array<string> = []
    let stderr = ""
    let killed = false
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout.on("data", (d: Buffer) => {
      for (const l of d.toString().split("\n").filter(Boolean)) {
        lines.push(l)
        if (l === "ready") {
          setTimeout(() => {
            killed = child.kill("SIGKILL")
          }, delayMs)
        }
      }
    })
    child.on("error", reject)
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL" && code !== 0) reject(new Error(`child failed (${code}): ${stderr}`))
      else resolve({ lines, killed: signal === "SIGKILL" && killed })
    })
  })

describe.skipIf(!engineReady)("a crash in the middle of applies, on a real Docker engine", () => {
  let adapter: DockerAdapterShape
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

  beforeAll(async () => {
    // The child runs the built package.
    execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-b", "packages/adapters-docker"], {
      cwd: repoRoot,
      stdio: "inherit"
    })
    adapter = await run(
      makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${socketPath}` }], dockerConfig: false })
    )
    await removeSuiteContainers(SUITE)
    for (const name of NAMES) await createAgent({ suite: SUITE, name, group: "a" })
  }, 300_000)
  afterAll(() => removeSuiteContainers(SUITE), 60_000)

  // Kill points spread over the run: before the first call, during the stop of the first, in the
  // middle of the create/rename/start of one target, between targets, near the end.
  const delays = [0, 60, 150, 300, 500, 800, 1200, 1800]

  it.each(delays.map((d, i) => [d, i] as const))(
    "SIGKILL after %ims, then apply again: every name holds exactly one running v2 container, nothing lost; rollback restores the originals",
    async (delay, i) => {
      const rolloutId = `crash-${i}`
      const key = rolloutKey(rolloutId)
      const originals = new Map<string, Json>()
      for (const n of NAMES) originals.set(n, await inspect(n))
      const { lines, killed } = await applyAndKill(rolloutId, "sluice-test/agent:v2", delay)
      expect(killed || lines.includes("done")).toBe(true)

      // Resume: the same applies again, in this process.
      const previous = new Map<string, unknown>()
      for (const n of NAMES) {
        const state = originals.get(n)
        previous.set(n, state)
        await run(adapter.apply(target(n), artifactOf("sluice-test/agent:v2"), { rolloutId, wave: 0, mode: "replace" }))
      }
      for (const n of NAMES) {
        const c = await inspect(n)
        expect(c.Config.Image, n).toBe("sluice-test/agent:v2")
        expect(c.State.Running, n).toBe(true)
        // Exactly the target and its parked original: no duplicate, no half-made leftover.
        expect(await containerNames(n), n).toEqual([n, `${n}${ASIDE_MARK}${key}`].sort())
        const aside = await inspect(`${n}${ASIDE_MARK}${key}`)
        expect(aside.Id, n).toBe(originals.get(n).Id)
        expect(aside.State.Running, n).toBe(false)
        expect((await waitHealth(adapter, target(n))).status, n).toBe("healthy")
      }

      // Roll back to the originals for the next kill point.
      for (const n of NAMES) {
        const o = originals.get(n)
        await run(
          adapter.rollback(target(n), {
            image: o.Config.Image,
            data: { v: 1, host: "local", name: n, containerId: o.Id, imageId: o.Image, running: true }
          })
        )
        const c = await inspect(n)
        expect(c.Id, n).toBe(o.Id)
        expect(c.State.Running, n).toBe(true)
        expect(await containerNames(n), n).toEqual([n])
      }
      for (const n of NAMES) expect((await waitHealth(adapter, target(n))).status, n).toBe("healthy")
    },
    180_000
  )
})
