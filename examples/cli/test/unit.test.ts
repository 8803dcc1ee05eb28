import * as fs from "node:fs"
import {
  configFromSpec,
  makeMemoryStore,
  parseRolloutSpec,
  planWaves,
  RolloutStore,
  rollbackRollout,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { Effect, Layer, Result } from "effect"
import { describe, expect, it } from "vitest"
import { parseArgs } from "../src/args.js"
import { applyCommand } from "../src/commands/specs.js"
import { UsageError } from "../src/errors.js"
import { parseFaults, parseLatency } from "../src/simulated/faults.js"
import { fixture, V1, V2 } from "./helpers.js"

const spec = () => {
  const r = parseRolloutSpec(fs.readFileSync(fixture("rolling.yaml"), "utf8"))
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("--faults", () => {
  it("parses every kind into version profiles and infrastructure faults", () => {
    const f = parseFaults(
      "transient=0.05,probe-errors=0.1,never-healthy=:2.1.0,fail-after=:2.2.0@3s#node-1+node-2,flapping=:2.3.0,root=:3.0.0,no-limits=:3.0.0,error-rate=:2.2.0@0.2,permanent=node-007+node-008"
    )
    expect(f.faults).toEqual({
      transientErrorRate: 0.05,
      healthErrorRate: 0.1,
      permanentApplyFailures: ["node-007", "node-008"]
    })
    expect(f.versions[":2.1.0"]).toEqual({ behaviour: { kind: "neverHealthy" } })
    expect(f.versions[":2.2.0"]).toEqual({
      behaviour: { kind: "failAfter", afterMs: 3000 },
      onlyOn: ["node-1", "node-2"],
      errorRate: 0.2
    })
    expect(f.versions[":3.0.0"]).toEqual({ runsAsRoot: true, noLimits: true })
    expect(parseFaults(`flapping=registry.sluice.dev/a/b@sha256:${"a".repeat(64)}`).versions).toHaveProperty(
      `registry.sluice.dev/a/b@sha256:${"a".repeat(64)}`
    )
  })

  it("names the bad item and the bad part", () => {
    const bad = (text: string) => {
      try {
        parseFaults(text)
        return "no error"
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError)
        return (e as UsageError).message
      }
    }
    expect(bad("transient=2")).toBe('--faults item 1 "transient=2": "2" is not a probability between 0 and 1')
    expect(bad("never-healthy=2.1.0")).toContain(`"2.1.0" looks like a tag: write it :2.1.0`)
    expect(bad("never-healthy=Bad Image")).toContain("is neither a tag like :2.1.0 nor an image reference")
    expect(bad("flapping=:1,flapping=:1")).toContain("version :1 already has a behaviour")
    expect(bad("fail-after=:1")).toContain("expected fail-after=<version>@<duration>")
    expect(bad("transient=0.1,,root=:1")).toContain("item 2")
    expect(() => parseLatency("apply-latency", "80ms..20ms")).toThrow("the maximum is below the minimum")
  })
})

describe("argument parsing", () => {
  it("accepts --x v, --x=v, -f v, repeatable lists and - for stdin", () => {
    const p = parseArgs(applyCommand, ["-f", "-", "--set=a=1", "--set", "b=2", "--json", "--id=x"])
    expect(p.strings.get("filename")).toBe("-")
    expect(p.lists.get("set")).toEqual(["a=1", "b=2"])
    expect(p.flags.has("json")).toBe(true)
    expect(p.strings.get("id")).toBe("x")
  })
  it("rejects a flag with a value and a string option given twice", () => {
    expect(() => parseArgs(applyCommand, ["--json=yes"])).toThrow("--json takes no value")
    expect(() => parseArgs(applyCommand, ["--id", "a", "--id", "b"])).toThrow('--id given twice ("a" and "b")')
    expect(() => parseArgs(applyCommand, ["extra"])).toThrow("takes no arguments")
  })
})

describe("configFromSpec", () => {
  it("maps the spec to the interpreter's config in milliseconds", () => {
    const config = configFromSpec(spec(), "r1")
    expect(config).toMatchObject({
      rolloutId: "r1",
      adapter: "simulated",
      selector: {},
      health: { progressDeadlineMs: 5000, minReadyMs: 0, pollIntervalMs: 20 },
      rollback: { onFailure: true, onAbort: true },
      gates: { policy: false, scan: false, analysis: [] },
      operations: { timeoutMs: 120_000, retries: 5 }
    })
    expect(config.artifact.image.raw).toBe(V2)
    expect(configFromSpec(spec(), "r1", { adapter: "docker" }).adapter).toBe("docker")
  })
})

describe("rollbackRollout", () => {
  it("restores every target a completed rollout touched, as a new rollout <id>-rollback", async () => {
    const fleet = makeSimulatedFleet({ size: 9, image: V1, seed: 3 })
    const store = makeMemoryStore()
    const layer = Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store))
    const s = spec()
    const done = await Effect.runPromise(
      startRollout({ config: configFromSpec(s, "r1"), spec: {}, plan: (inv) => planWaves(s, inv) }).pipe(
        Effect.provide(layer)
      )
    )
    expect(done.outcome).toBe("completed")
    const back = await Effect.runPromise(rollbackRollout("r1").pipe(Effect.provide(layer)))
    expect(back).toMatchObject({ rolloutId: "r1-rollback", outcome: "rolledBack" })
    expect(back.rolledBack).toHaveLength(9)
    for (const t of fleet.targets.values()) expect(t.image).toBe(V1)
    const again = await Effect.runPromiseExit(rollbackRollout("r1").pipe(Effect.provide(layer)))
    expect(again._tag).toBe("Failure")
  })
})
