import { describe, expect, it } from "vitest"
import { countType, events, fixture, fleet, imageOf, sluice, start, tmpStore, V1, V2 } from "./helpers.js"

const SPEC = fixture("rolling.yaml")
/** Slow enough to act on while it runs: 40 targets, one at a time, ~100ms each. */
const slow = (store: string) => [
  "--store",
  store,
  "--fleet-size",
  "40",
  "--set",
  "spec.strategy.rolling.maxUnavailable=1",
  // The core keeps a wave's progress deadline running during an operator pause (reported):
  // long enough here that a slow machine cannot turn a pause into a rollback.
  "--set",
  "spec.health.progressDeadline=60s",
  "--apply-latency",
  "30ms..50ms",
  "--ready-latency",
  "30ms..50ms"
]

const appliedTwice = (store: string) =>
  [...fleet(store).targets].filter(([, t]) => t.history.filter((h) => h.via === "apply").length > 1).map(([id]) => id)

describe("controlling a running rollout from another process", () => {
  it("survives kill -9: `sluice resume` finishes it with no target updated twice", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "crash", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 8)
    run.child.kill("SIGKILL")
    const killed = await run.done
    expect(killed.code).toBeNull()
    const before = fleet(store)
    const onV2 = [...before.targets.values()].filter((t) => t.image === V2).length
    expect(onV2).toBeGreaterThan(0)
    expect(onV2).toBeLessThan(40)

    const status = await sluice(["status", "crash", "--json", "--store", store])
    expect(JSON.parse(status.stdout)).toMatchObject({ running: false, finished: false })

    const resumed = await sluice(["resume", "crash", "--json", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    const evs = events(resumed.stdout)
    expect(evs[0]).toMatchObject({ type: "rolloutStarted", resumed: true })
    expect(evs[evs.length - 1]).toMatchObject({ type: "result", outcome: "completed" })
    const after = fleet(store)
    for (let i = 0; i < 40; i++) expect(imageOf(after, `node-${String(i).padStart(2, "0")}`)).toBe(V2)
    expect(appliedTwice(store)).toEqual([])
  })

  it("pause and resume from a second process hold and release the running rollout", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "pr", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 3)
    const paused = await sluice(["pause", "pr", "--store", store])
    expect(paused.code, paused.stderr).toBe(0)
    expect(paused.stdout).toContain("paused pr")
    await run.waitFor((lines) => countType(lines, "paused") === 1)
    // Targets in flight finish; no new one starts while paused.
    await new Promise((r) => setTimeout(r, 400))
    const held = countType(run.lines, "targetUpdating")
    await new Promise((r) => setTimeout(r, 600))
    expect(countType(run.lines, "targetUpdating")).toBe(held)
    const status = JSON.parse((await sluice(["status", "pr", "--json", "--store", store])).stdout)
    expect(status).toMatchObject({ running: true, paused: true, finished: false })

    const resumed = await sluice(["resume", "pr", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    const done = await run.done
    expect(done.code, done.stderr).toBe(0)
    expect(events(done.stdout).some((e) => e.type === "resumed")).toBe(true)
    expect(appliedTwice(store)).toEqual([])
  })

  it("abort from a second process rolls the touched targets back (apply exits 3)", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "ab", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 5)
    const aborted = await sluice(["abort", "ab", "--reason", "bad metrics", "--store", store])
    expect(aborted.code, aborted.stderr).toBe(0)
    const done = await run.done
    expect(done.code, done.stderr).toBe(3)
    const result = events(done.stdout).at(-1)!
    expect(result).toMatchObject({ type: "result", outcome: "aborted", reason: "bad metrics" })
    const f = fleet(store)
    for (const [id, t] of f.targets) expect(t.image, id).toBe(V1)
    const late = await sluice(["pause", "ab", "--store", store])
    expect(late.code).toBe(64)
    expect(late.stderr).toContain("already finished (aborted)")
  })

  it("waits at a manual approval gate until `sluice approve`", async () => {
    const store = tmpStore()
    const run = start([
      "apply",
      "-f",
      SPEC,
      "--id",
      "gate",
      "--json",
      "--set",
      "spec.gates.manualApproval.before=first",
      ...slow(store).slice(0, 4)
    ])
    await run.waitFor((lines) => countType(lines, "awaitingApproval") === 1)
    expect(countType(run.lines, "targetUpdating")).toBe(0)
    const early = await sluice(["promote", "gate", "--store", store])
    expect(early.code).toBe(64)
    expect(early.stderr).toContain("not in a pause that can be promoted")
    expect(early.stderr).toContain("--full")
    const approved = await sluice(["approve", "gate", "--store", store])
    expect(approved.code, approved.stderr).toBe(0)
    const done = await run.done
    expect(done.code, done.stderr).toBe(0)
    expect(events(done.stdout).at(-1)).toMatchObject({ outcome: "completed" })
    const again = await sluice(["approve", "gate", "--store", store])
    expect(again.code).toBe(64)
  })

  it("`sluice promote --full` ends the pause it waits in and skips every later one", async () => {
    const store = tmpStore()
    const run = start([
      "apply",
      "-f",
      SPEC,
      "--id",
      "full",
      "--json",
      "--set",
      "spec.strategy.rolling.pauseBetweenWaves=10m",
      ...slow(store).slice(0, 4)
    ])
    await run.waitFor((lines) => countType(lines, "paused") === 1)
    const promoted = await sluice(["promote", "full", "--full", "--store", store])
    expect(promoted.code, promoted.stderr).toBe(0)
    const done = await run.done
    expect(done.code, done.stderr).toBe(0)
    const evs = events(done.stdout)
    expect(evs.at(-1)).toMatchObject({ outcome: "completed" })
    expect(countType(run.lines, "paused")).toBe(1)
    expect(evs.filter((e) => e.type === "waveStarted")).toHaveLength(4)
    for (const [id, t] of fleet(store).targets) expect(t.image, id).toBe(V2)
  })

  it("`sluice abort` of a rollout whose process died rolls it back here", async () => {
    const store = tmpStore()
    const run = start(["apply", "-f", SPEC, "--id", "orphan", "--json", ...slow(store)])
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 4)
    run.child.kill("SIGKILL")
    await run.done
    const r = await sluice(["abort", "orphan", "--json", "--store", store])
    expect(r.code, r.stderr).toBe(3)
    expect(r.stderr).toContain("no live process runs orphan")
    expect(events(r.stdout).at(-1)).toMatchObject({ outcome: "aborted" })
    for (const [id, t] of fleet(store).targets) expect(t.image, id).toBe(V1)
  })
})
