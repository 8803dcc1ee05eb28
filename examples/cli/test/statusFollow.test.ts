import { describe, expect, it } from "vitest"
import { countType, fixture, sluice, start, tmpStore } from "./helpers.js"

const SPEC = fixture("rolling.yaml")
/** 30 targets, one at a time: a few seconds, long enough to follow from another process. */
const slow = (store: string) => [
  "--store",
  store,
  "--fleet-size",
  "30",
  "--set",
  "spec.strategy.rolling.maxUnavailable=1",
  "--set",
  "spec.health.progressDeadline=60s",
  "--apply-latency",
  "20ms..40ms",
  "--ready-latency",
  "20ms..40ms"
]

describe("sluice status --wait / --watch, from another process", () => {
  it("--wait blocks until the rollout ends and exits with its outcome's code (0: completed)", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "w0", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 2)
    const waited = await sluice(["status", "w0", "--wait", "--store", store])
    const applied = await run.done
    expect(applied.code).toBe(0)
    expect(waited.code, waited.stderr).toBe(0)
    expect(waited.stdout).toContain("completed")
    expect(waited.stdout).toContain("30/30 updated")
  })

  it("--wait exits 3 when the rollout is rolled back", async () => {
    const store = tmpStore()
    const run = start([
      "apply",
      "-f",
      SPEC,
      "--id",
      "w3",
      "--json",
      ...slow(store),
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      "never-healthy=:2.0.0#node-05"
    ])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 1)
    const waited = await sluice(["status", "w3", "--wait", "--store", store])
    expect((await run.done).code).toBe(3)
    expect(waited.code, waited.stderr).toBe(3)
    expect(waited.stdout).toContain("rolled back")
  })

  it("--watch prints a line per change while it runs, then the summary", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "wa", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 1)
    const watched = await sluice(["status", "wa", "--watch", "--store", store])
    expect((await run.done).code).toBe(0)
    expect(watched.code, watched.stderr).toBe(0)
    const progress = watched.stdout.split("\n").filter((l) => l.startsWith("wa: "))
    // Distinct lines only, and more than one: it followed the rollout as it went.
    expect(progress.length).toBeGreaterThan(1)
    expect(new Set(progress).size).toBe(progress.length)
    expect(progress[0]).toMatch(/updated, \d+ in flight/)
    expect(watched.stdout).toContain("completed")
  })

  it("--timeout gives up with exit 1 and leaves the rollout running; a rollout no process runs is named", async () => {
    const store = tmpStore()
    const run = start([
      "apply",
      "-f",
      SPEC,
      "--id",
      "wt",
      "--json",
      "--set",
      "spec.gates.manualApproval.before=first",
      ...slow(store)
    ])
    await run.waitFor((lines) => countType(lines, "awaitingApproval") === 1)
    const timedOut = await sluice(["status", "wt", "--wait", "--timeout", "300ms", "--store", store])
    expect(timedOut.code).toBe(1)
    expect(timedOut.stderr).toContain("had not ended after 300ms")
    expect(timedOut.stderr).not.toContain("no live process")
    const still = JSON.parse((await sluice(["status", "wt", "--json", "--store", store])).stdout)
    expect(still).toMatchObject({ running: true, finished: false, awaitingApproval: true })
    run.child.kill("SIGKILL")
    await run.done
    const orphan = await sluice(["status", "wt", "--wait", "--timeout", "300ms", "--store", store])
    expect(orphan.code).toBe(1)
    expect(orphan.stderr).toContain("no live process runs wt")
    const bad = await sluice(["status", "wt", "--wait", "--timeout", "soon", "--store", store])
    expect(bad.code).toBe(64)
  })
})
