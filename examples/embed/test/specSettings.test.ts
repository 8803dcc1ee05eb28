/**
 * An embedder that loads only the built-in bundle (no data of its own) still gets the spec's
 * policy settings: the engine receives them with every evaluation (`input.params`). They used to
 * reach the policies only when the embedder copied them into the bundle data as the CLI did, so a
 * spec selecting a Pod Security profile ran without it: fail open.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  configFromSpec,
  EventSink,
  FileStoreLayer,
  parseRolloutSpec,
  planWaves,
  type RolloutEvent,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"
import { describe, expect, it } from "vitest"

const run = async (gates: string) => {
  const yaml = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: node-agent }
spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { rolling: { batchSize: 2 } }
  health: { progressDeadline: 30s }
  gates: ${gates}
`
  const parsed = parseRolloutSpec(yaml)
  if (Result.isFailure(parsed)) throw new Error(parsed.failure.message)
  const spec = parsed.success
  const fleet = makeSimulatedFleet({ size: 4, image: "registry.sluice.dev/agents/node-agent:1.0.0" })
  const events: RolloutEvent[] = []
  const layer = Layer.mergeAll(
    fleet.layer,
    PolicyEngineLive.layer,
    FileStoreLayer(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-embed-params-"))),
    EventSink.fromCallback((e) => events.push(e))
  )
  const config = configFromSpec(spec, "spec-settings")
  const result = await Effect.runPromise(
    startRollout({ config, spec: yaml, plan: (inventory) => planWaves(spec, inventory) }).pipe(Effect.provide(layer))
  )
  return { result, events, fleet }
}

describe("the spec's policy settings reach an engine built without them", () => {
  it("a selected Pod Security profile applies (a simulated agent has no pod spec: denied, nothing touched)", async () => {
    const { result } = await run(
      "{ policy: { enabled: true, profiles: [pod-security/restricted] }, scan: { enabled: false } }"
    )
    expect(result.outcome).toBe("blocked")
    expect(result.touched).toHaveLength(0)
    expect(result.violations.map((v) => v.rule)).toContain("pod-security/no-pod-spec")
  })

  it("without the profile the same rollout completes (the profile was what blocked it)", async () => {
    const { result } = await run("{ policy: { enabled: true }, scan: { enabled: false } }")
    expect(result.outcome).toBe("completed")
  })

  it("the scan gate's waiver applies: no report, waived, completes with the warning", async () => {
    const { result, events } = await run(
      "{ policy: { enabled: true }, scan: { enabled: true, waiveMissingReport: true } }"
    )
    expect(result.outcome).toBe("completed")
    const scan = events.find((e) => e.type === "gateDecided" && e.gate === "scan")
    expect(scan).toMatchObject({ allow: true })
    expect(scan?.type === "gateDecided" ? scan.warnings.map((w) => w.rule) : []).toContain("scan-gate/missing-report")
  })

  it("without the waiver the missing report denies", async () => {
    const { result } = await run("{ policy: { enabled: true }, scan: { enabled: true } }")
    expect(result.outcome).toBe("blocked")
    expect(result.violations.map((v) => v.rule)).toContain("scan-gate/missing-report")
  })
})
