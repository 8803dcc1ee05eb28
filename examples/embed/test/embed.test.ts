import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { rolloutFromControlPlane } from "../src/rolloutFromControlPlane.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "sluice-embed-"))

describe("embedding Sluice in a control plane (rolloutFromControlPlane: the README example as a function, with a bad version)", () => {
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

describe("the decision log in the event stream", () => {
  it("records each distinct decision with the built-in bundle's revision", async () => {
    const manifest = JSON.parse(
      fs.readFileSync(new URL("../../../packages/policies/dist/manifest.json", import.meta.url), "utf8")
    ) as { revision: string }
    const run = await rolloutFromControlPlane({ storeDir: tmp(), fleetSize: 4 })
    const decisions = run.events.filter((e) => e.type === "policyDecision")
    expect(decisions.length).toBeGreaterThan(0)
    for (const d of decisions) {
      expect(d.bundleRevision).toContain(manifest.revision)
      expect(d.inputSha256).toMatch(/^[0-9a-f]{64}$/)
    }
  })
})
