import { describe, expect, it } from "vitest"
import { FAST, fixture, fleet, imageOf, sluice, tmpStore, V1, V2 } from "./helpers.js"

const V3 = "registry.sluice.dev/agents/node-agent:3.0.0"
const ids = Array.from({ length: 20 }, (_, i) => `node-${String(i).padStart(2, "0")}`)

describe("list and summaries on a mixed fleet", () => {
  it("name every version being replaced with its count, and count what was restored", async () => {
    const store = tmpStore()
    const common = ["-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "20", ...FAST]
    const failing = ["--set", "spec.strategy.rolling.batchSize=5", "--set", "spec.health.progressDeadline=1s"]
    const rolledBack = await sluice([
      "apply",
      ...common,
      ...failing,
      "--id",
      "m1",
      "--faults",
      "never-healthy=:2.0.0#node-07"
    ])
    expect(rolledBack.code).toBe(3)
    // Rollback off: the fleet is left mixed (some on 2.0.0, the rest on 1.0.0).
    const left = await sluice([
      "apply",
      ...common,
      ...failing,
      "--id",
      "m2",
      "--set",
      "spec.rollback.onFailure=false",
      "--faults",
      "never-healthy=:2.0.0#node-12"
    ])
    expect(left.code).toBe(3)
    const before = fleet(store)
    const onV2 = ids.filter((id) => imageOf(before, id) === V2).length
    expect(onV2).toBeGreaterThan(0)
    expect(ids.filter((id) => imageOf(before, id) === V1).length).toBe(20 - onV2)

    const v3 = await sluice(["apply", ...common, "--id", "m3", "--plain", "--set", `spec.artifact.image=${V3}`])
    expect(v3.code, v3.stderr).toBe(0)
    const mixed =
      onV2 > 20 - onV2 ? `2.0.0 ×${onV2}, 1.0.0 ×${20 - onV2} → 3.0.0` : `1.0.0 ×${20 - onV2}, 2.0.0 ×${onV2} → 3.0.0`
    expect(v3.stdout).toContain(`image      registry.sluice.dev/agents/node-agent: ${mixed}`)
    expect(v3.stdout).toContain(`node-agent: ${mixed} on 20 targets`)

    const m1 = JSON.parse((await sluice(["status", "m1", "--json", "--store", store])).stdout)
    expect(m1.counts.rolledBack).toBeGreaterThan(0)
    const list = await sluice(["list", "--store", store])
    const row = (id: string) =>
      list.stdout
        .split("\n")
        .find((l) => l.startsWith(`${id} `))
        ?.split(/\s{2,}/)
    expect(list.stdout.split("\n")[0]!.split(/\s{2,}/)).toEqual([
      "ID",
      "STATE",
      "VERSION",
      "UPDATED",
      "RESTORED",
      "CREATED"
    ])
    expect(row("m1")?.slice(1, 5)).toEqual([
      "rolled back",
      "1.0.0 → 2.0.0",
      `${m1.counts.updated}/20`,
      `${m1.counts.rolledBack}`
    ])
    expect(row("m2")?.[4]).toBe("-")
    expect(row("m3")?.slice(1, 5)).toEqual([
      "completed",
      onV2 > 20 - onV2 ? "2.0.0+1.0.0 → 3.0.0" : "1.0.0+2.0.0 → 3.0.0",
      "20/20",
      "-"
    ])
  })
})
