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
