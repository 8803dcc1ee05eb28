import { describe, expect, it } from "vitest"
import { events, FAST, fixture, fleet, imageOf, sluice, tmpStore, V2 } from "./helpers.js"

const V3 = "registry.sluice.dev/agents/node-agent:3.0.0"
const ids = Array.from({ length: 12 }, (_, i) => `node-${String(i).padStart(2, "0")}`)
const onAll = (store: string, image: string) => {
  const f = fleet(store)
  return ids.every((id) => imageOf(f, id) === image)
}

describe("sluice undo <id> [--to-revision N] [--history]", () => {
  it("rolls the revision before <id>'s out again as a new gated rollout; --history lists the revisions", async () => {
    const store = tmpStore()
    const common = ["-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "12", ...FAST]
    expect((await sluice(["apply", ...common, "--id", "u1"])).code).toBe(0)
    const v3 = await sluice(["apply", ...common, "--id", "u2", "--set", `spec.artifact.image=${V3}`])
    expect(v3.code, v3.stderr).toBe(0)
    expect(onAll(store, V3)).toBe(true)

    const history = await sluice(["undo", "u2", "--history", "--store", store])
    expect(history.code, history.stderr).toBe(0)
    const rows = history.stdout.split("\n").filter((l) => l !== "")
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatch(/^\s+1 {2}u1 {2}2\.0\.0 {2}/)
    expect(rows[1]).toMatch(/^\s+2 {2}u2 {2}3\.0\.0 {2}/)

    const undone = await sluice(["undo", "u2", "--json", "--store", store])
    expect(undone.code, undone.stderr).toBe(0)
    expect(undone.stderr).toContain("back to revision 1 (u1, 2.0.0) as u2-undo")
    const evs = events(undone.stdout)
    expect(evs[0]).toMatchObject({ type: "rolloutStarted", rolloutId: "u2-undo", image: V2 })
    expect(evs.some((e) => e.type === "gateDecided")).toBe(false) // the fixture's gates are off, as stored
    expect(evs.at(-1)).toMatchObject({ type: "result", outcome: "completed" })
    expect(onAll(store, V2)).toBe(true)

    const forward = await sluice(["undo", "u2-undo", "--to-revision", "2", "--store", store])
    expect(forward.code, forward.stderr).toBe(0)
    expect(onAll(store, V3)).toBe(true)

    const first = await sluice(["undo", "u1", "--store", store])
    expect(first.code).toBe(64)
    expect(first.stderr).toContain("u1 is the first revision of agent")
    const out = await sluice(["undo", "u2", "--to-revision", "9", "--store", store])
    expect(out.code).toBe(64)
    expect(out.stderr).toContain("agent has revisions 1..4")
  })
})
