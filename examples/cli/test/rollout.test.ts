import { describe, expect, it } from "vitest"
import { events, FAST, fixture, fleet, imageOf, sluice, tmpStore, V1, V2 } from "./helpers.js"

const SPEC = fixture("rolling.yaml")
const small = (store: string, size = 30) => ["--store", store, "--fleet-size", String(size), ...FAST]

describe("sluice apply: outcomes and exit codes", () => {
  it("completes (exit 0), emits parseable JSON events, and ends with a result line", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", SPEC, "--id", "r1", "--json", ...small(store)])
    expect(r.code, r.stderr).toBe(0)
    const evs = events(r.stdout)
    expect(evs[0]!.type).toBe("rolloutStarted")
    expect(evs.some((e) => e.type === "waveStarted")).toBe(true)
    expect(evs.filter((e) => e.type === "targetUpdating")).toHaveLength(30)
    const finished = evs.find((e) => e.type === "finished")!
    expect(finished.outcome).toBe("completed")
    const result = evs[evs.length - 1]!
    expect(result).toMatchObject({ type: "result", outcome: "completed", exitCode: 0 })
    const f = fleet(store)
    for (let i = 0; i < 30; i++) expect(imageOf(f, `node-${String(i).padStart(2, "0")}`)).toBe(V2)
    // The human summary and status read the same store.
    const status = await sluice(["status", "r1", "--store", store])
    expect(status.stdout).toContain("✓ completed  r1")
    expect(status.stdout).toContain("30/30 updated")
  })

  it("prints progress lines and a summary when stdout is not a terminal", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", SPEC, "--id", "plain", ...small(store)])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/wave 0 \(1\/\d, batch\) started: \d+ targets — zone-a \d+, zone-b \d+, zone-c \d+/)
    expect(r.stdout).toContain("✓ completed  plain")
    expect(r.stdout).toMatch(/duration\s+\d/)
  })

  it("is blocked by the policy gate (exit 2), listing violations per target and container", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      SPEC,
      "--id",
      "root",
      "--set",
      "spec.gates.policy.enabled=true",
      "--faults",
      "root=:2.0.0",
      ...small(store, 12)
    ])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toContain("✗ blocked  root")
    expect(r.stdout).toContain("no target was touched")
    expect(r.stdout).toMatch(/node-00, node-01, .* \(12 targets\)/)
    expect(r.stdout).toMatch(/container agent: \[[^\]]+\] /)
    const f = fleet(store)
    expect([...f.targets.values()].every((t) => t.history.length === 0)).toBe(true)
    const json = await sluice(["status", "root", "--json", "--store", store])
    const status = JSON.parse(json.stdout) as {
      outcome: string
      violations: Array<{ targetId: string; container?: string }>
    }
    expect(status.outcome).toBe("blocked")
    expect(new Set(status.violations.map((v) => v.targetId)).size).toBe(12)
    expect(status.violations.every((v) => v.container === "agent")).toBe(true)
  })

  it("rolls back on its own when a wave fails health (exit 3), leaving untouched targets alone", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      SPEC,
      "--id",
      "bad",
      "--json",
      "--faults",
      "fail-after=:2.0.0@0s#node-12",
      ...small(store)
    ])
    expect(r.code, r.stderr).toBe(3)
    const evs = events(r.stdout)
    expect(evs.some((e) => e.type === "targetFailed" && e.targetId === "node-12")).toBe(true)
    expect(evs[evs.length - 1]).toMatchObject({ type: "result", outcome: "rolledBack", exitCode: 3 })
    const f = fleet(store)
    const touched = new Set((evs[evs.length - 1]!.touched as string[]) ?? [])
    expect(touched.size).toBeGreaterThan(0)
    for (const [id, t] of f.targets) {
      expect(t.image, id).toBe(V1)
      if (!touched.has(id)) expect(t.history, id).toHaveLength(0)
    }
  })

  it("exits 4 when the rollback itself fails", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      SPEC,
      "--id",
      "stuck",
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      "fail-after=:2.0.0@0s#node-05,never-healthy=:1.0.0",
      ...small(store, 12)
    ])
    expect(r.code, r.stdout + r.stderr).toBe(4)
    expect(r.stdout).toContain("✗ rollback failed  stuck")
    expect(r.stdout).toContain("not restored:")
  })

  it("rolls a completed rollout back with `sluice rollback` (exit 0)", async () => {
    const store = tmpStore()
    expect((await sluice(["apply", "-f", SPEC, "--id", "done", ...small(store, 12)])).code).toBe(0)
    const r = await sluice(["rollback", "done", "--store", store, ...FAST])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain("✓ rolled back  done-rollback")
    expect(r.stdout).toContain("12/12 restored")
    const f = fleet(store)
    for (const [, t] of f.targets) {
      expect(t.image).toBe(V1)
      expect(t.history.map((h) => h.via)).toEqual(["apply", "rollback"])
    }
    const again = await sluice(["rollback", "done", "--store", store])
    expect(again.code).toBe(64)
    expect(again.stderr).toContain("already runs its previous revision; nothing to roll back")
  })
})

describe("sluice apply --policy", () => {
  const BUNDLE = new URL("../../../packages/policies/test/fixtures/bundles/basic.tar.gz", import.meta.url).pathname

  it("adds a user's bundle to the built-in one: its denial blocks the rollout (exit 2) and nothing is touched", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      SPEC,
      "--id",
      "mine",
      "--policy",
      BUNDLE,
      "--faults",
      "no-limits=:2.0.0",
      ...small(store, 6)
    ])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toContain("basic/memory-limit")
    expect(r.stdout).toContain("resource-limits/missing")
    const f = fleet(store)
    for (let i = 0; i < 6; i++) expect(imageOf(f, `node-${i}`)).toBe(V1)
  })

  it("lets a compliant workload through the user's bundle too", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", SPEC, "--id", "ok", "--policy", BUNDLE, ...small(store, 6)])
    expect(r.code, r.stdout + r.stderr).toBe(0)
  })

  it("rejects a --policy path that does not exist (exit 64) before touching anything", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", SPEC, "--id", "x", "--policy", "/nope/bundle.tar.gz", ...small(store, 6)])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain("--policy /nope/bundle.tar.gz: no such file or directory")
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })
})
