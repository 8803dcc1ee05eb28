import { describe, expect, it } from "vitest"
import { events, FAST, fixture, fleet, imageOf, sluice, tmpStore, V1, V2 } from "./helpers.js"

const ids = Array.from({ length: 20 }, (_, i) => `node-${String(i).padStart(2, "0")}`)
const common = (store: string) => ["-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "20", ...FAST]

describe("sluice retry <id>", () => {
  it("starts a rolled-back rollout again as <id>-retry with the same spec, to completion", async () => {
    const store = tmpStore()
    const failed = await sluice([
      "apply",
      ...common(store),
      "--id",
      "r1",
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      "never-healthy=:2.0.0#node-05"
    ])
    expect(failed.code, failed.stderr).toBe(3)
    for (const id of ids) expect(imageOf(fleet(store), id), id).toBe(V1)

    // The simulated bug is "fixed": --faults given again replace the original rollout's.
    const retried = await sluice(["retry", "r1", "--json", "--store", store, "--faults", "transient=0", ...FAST])
    expect(retried.code, retried.stderr).toBe(0)
    expect(retried.stderr).toContain("retrying r1 (rolledBack) as r1-retry")
    const evs = events(retried.stdout)
    expect(evs[0]).toMatchObject({ type: "rolloutStarted", rolloutId: "r1-retry", image: V2 })
    expect(evs.at(-1)).toMatchObject({ type: "result", outcome: "completed" })
    for (const id of ids) expect(imageOf(fleet(store), id), id).toBe(V2)
    const status = JSON.parse((await sluice(["status", "r1-retry", "--json", "--store", store])).stdout)
    expect(status).toMatchObject({ finished: true, outcome: "completed" })

    const again = await sluice(["retry", "r1-retry", "--store", store])
    expect(again.code).toBe(64)
    expect(again.stderr).toContain("completed; nothing to retry")
  })

  it("keeps the original's faults unless given again, and names the next free id", async () => {
    const store = tmpStore()
    const args = ["--set", "spec.health.progressDeadline=1s", "--faults", "never-healthy=:2.0.0#node-05"]
    expect((await sluice(["apply", ...common(store), "--id", "r2", ...args])).code).toBe(3)
    // No simulation flag given: the original's faults and latencies are used again.
    const first = await sluice(["retry", "r2", "--store", store])
    expect(first.code).toBe(3) // the same fault again
    expect(first.stderr).toContain("as r2-retry\n")
    const second = await sluice(["retry", "r2", "--store", store])
    expect(second.code).toBe(3)
    expect(second.stderr).toContain("as r2-retry-2\n")
  })

  it("refuses a rollout whose rollback failed, and an unknown one", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      ...common(store),
      "--id",
      "r3",
      "--set",
      "spec.health.progressDeadline=1s",
      "--faults",
      "never-healthy=:2.0.0#node-05,rollback-fails=node-05"
    ])
    expect(r.code).toBe(4)
    const refused = await sluice(["retry", "r3", "--store", store])
    expect(refused.code).toBe(64)
    expect(refused.stderr).toContain("`sluice rollback r3` first")
    const unknown = await sluice(["retry", "nope", "--store", store])
    expect(unknown.code).toBe(64)
  })
})
