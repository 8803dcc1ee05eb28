/**
 * `topology.maxFailuresPerGroup` from the CLI: a node that fails within its zone's budget is
 * rolled back on its own, the rollout completes (exit 0) and the summary names it.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { events, FAST, fleet, imageOf, sluice, tmpStore, V1, V2 } from "./helpers.js"

const spec = (budget: number) => `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: simulated }
  artifact: { image: ${V2} }
  strategy: { rolling: { batchSize: 25%, maxUnavailable: 3 } }
  topology: { key: zone, maxFailuresPerGroup: ${budget} }
  health: { progressDeadline: 5s }
  gates: { policy: { enabled: false }, scan: { enabled: false } }
`

describe("the failure budget from the CLI", () => {
  it("one failed node within its zone's budget: rolled back alone, the rollout completes", async () => {
    const store = tmpStore()
    const file = path.join(store, "spec.yaml")
    fs.writeFileSync(file, spec(1))
    const r = await sluice([
      "apply",
      "-f",
      file,
      "--store",
      store,
      "--fleet-size",
      "24",
      "--faults",
      "permanent=node-07",
      ...FAST
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("1 failed within the failure budget and were rolled back on their own: node-07")
    const f = fleet(store)
    expect(imageOf(f, "node-07")).toBe(V1)
    expect(imageOf(f, "node-08")).toBe(V2)
  })

  it("with the default budget of 0 the same failure rolls everything back (exit 3)", async () => {
    const store = tmpStore()
    const file = path.join(store, "spec.yaml")
    fs.writeFileSync(file, spec(0))
    const r = await sluice([
      "apply",
      "-f",
      file,
      "--json",
      "--store",
      store,
      "--fleet-size",
      "24",
      "--faults",
      "permanent=node-07",
      ...FAST
    ])
    expect(r.code, r.stderr).toBe(3)
    expect(events(r.stdout).at(-1)).toMatchObject({ outcome: "rolledBack" })
  })
})
