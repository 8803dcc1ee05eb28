import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { rolloutFromControlPlane } from "../src/rolloutFromControlPlane.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sluice-embed-"))

describe("embedding Sluice in a control plane (the README example)", () => {
  it("runs a gated canary rollout to completion and reports it through the event sink", async () => {
    const run = await rolloutFromControlPlane({ storeDir: tmp(), fleetSize: 20 })
    expect(run.result.outcome).toBe("completed")
    expect(run.result.updated).toHaveLength(20)
    expect(run.events.some((e) => e.type === "gateDecided" && e.gate === "policy" && e.allow)).toBe(true)
    expect(run.events.filter((e) => e.type === "waveStarted").length).toBeGreaterThanOrEqual(3)
  })

  it("is blocked by the built-in policies when the new version runs as root, touching nothing", async () => {
    const run = await rolloutFromControlPlane({ storeDir: tmp(), fleetSize: 5, badVersion: true })
    expect(run.result.outcome).toBe("blocked")
    expect(run.result.touched).toHaveLength(0)
    expect(run.result.violations.some((v) => v.rule === "non-root")).toBe(true)
  })
})
