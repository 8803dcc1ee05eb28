import { describe, expect, it } from "vitest"
import { events, FAST, fixture, fleet, imageOf, sluice, tmpStore, V1, V2 } from "./helpers.js"

const ids = Array.from({ length: 20 }, (_, i) => `node-${String(i).padStart(2, "0")}`)

describe("--faults rollback-fails=<t>: rehearsing a rollback that fails (exit 4)", () => {
  it("a wave fails, every touched target is restored except the one whose rollback fails: exit 4", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--json",
      "--store",
      store,
      "--fleet-size",
      "20",
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      "never-healthy=:2.0.0#node-05,rollback-fails=node-05",
      ...FAST
    ])
    expect(r.code, r.stderr).toBe(4)
    const result = events(r.stdout).at(-1)!
    expect(result).toMatchObject({ type: "result", outcome: "rollbackFailed" })
    const f = fleet(store)
    expect(imageOf(f, "node-05")).toBe(V2)
    for (const id of ids.filter((i) => i !== "node-05")) expect(imageOf(f, id), id).toBe(V1)
    const plain = await sluice(["status", "--store", store])
    expect(plain.stdout).toContain("node-05")
  })

  it("names the target in usage errors like the other target faults", async () => {
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--store",
      tmpStore(),
      "--fleet-size",
      "20",
      "--faults",
      "rollback-fails=node-99",
      ...FAST
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('--faults item "rollback-fails=node-99" names node-99')
  })
})

describe("a rollback's progress in plain output", () => {
  it("plain output shows a rollback's progress, a line per tenth of the targets to restore", async () => {
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--plain",
      "--store",
      tmpStore(),
      "--fleet-size",
      "100",
      "--set",
      "spec.health.progressDeadline=1s",
      "--set",
      "spec.strategy.rolling.batchSize=50%",
      "--set",
      "spec.strategy.rolling.maxUnavailable=50",
      "--faults",
      "never-healthy=:2.0.0#node-075",
      ...FAST
    ])
    expect(r.code, r.stderr).toBe(3)
    const total = Number(/rolling back (\d+) targets/.exec(r.stdout)?.[1])
    expect(total).toBeGreaterThanOrEqual(10)
    const step = Math.ceil(total / 10)
    const milestones = [...r.stdout.matchAll(/rolled back (\d+)\/(\d+)$/gm)].map((m) => Number(m[1]))
    const expected = Array.from({ length: Math.ceil(total / step) - 1 }, (_, i) => (i + 1) * step).filter(
      (n) => n < total
    )
    expect(milestones).toEqual(expected)
    expect(r.stdout).toContain(`rollback finished: ${total}/${total} restored`)
  })
})
