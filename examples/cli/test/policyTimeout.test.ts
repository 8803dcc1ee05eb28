import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"
import { FAST, fixture, fleet, sluice, tmpStore } from "./helpers.js"

/** The opa `npm run setup` builds; the looping policy is compiled with it (fail under CI without it). */
const OPA = fileURLToPath(new URL("../../../.tools/bin/opa", import.meta.url))
const haveOpa = fs.existsSync(OPA)
if (!haveOpa && process.env.CI === "true") throw new Error(`policy time-limit tests: no opa at ${OPA}`)
if (!haveOpa) console.warn(`NOTICE: skipping the policy time-limit tests: no opa at ${OPA} (npm run setup)`)

// opa's Wasm replace(s, "", x) never returns: this policy hangs the evaluation of every workload.
const LOOPING = `package sluice.policies.upper

deny contains {"rule": "upper/e", "message": "an upper-case E in the name"} if {
\treplace(input.workload.name, "", "e") != input.workload.name
}
`
const TIMED_OUT = /\[engine\/timeout\] the evaluation of policy bundle \S+ did not finish within 1s and was stopped/
// A hung CLI is killed (code null) rather than left running, so the test fails instead of hanging.
const KILL_AFTER_MS = 45_000

let dir: string
let bundle: string
beforeAll(async () => {
  if (!haveOpa) return
  dir = tmpStore()
  fs.mkdirSync(path.join(dir, "looping"))
  fs.writeFileSync(path.join(dir, "looping", "upper.rego"), LOOPING)
  bundle = path.join(dir, "looping.tar.gz")
  const built = await sluice(["policy", "build", path.join(dir, "looping"), "-o", bundle])
  expect(built.code, built.stderr).toBe(0)
})

describe.skipIf(!haveOpa)("a policy whose evaluation never ends", () => {
  it("blocks the rollout (exit 2) with engine/timeout after spec.gates.policy.evaluationTimeout; no target touched", async () => {
    const store = tmpStore()
    const values = path.join(store, "values.yaml")
    fs.writeFileSync(
      values,
      `spec:\n  gates:\n    policy:\n      enabled: true\n      bundles: [${JSON.stringify(bundle)}]\n      evaluationTimeout: 1s\n`
    )
    const r = await sluice(
      [
        "apply",
        "-f",
        fixture("rolling.yaml"),
        "--values",
        values,
        "--id",
        "looping",
        "--store",
        store,
        "--fleet-size",
        "6",
        ...FAST
      ],
      { killAfterMs: KILL_AFTER_MS }
    )
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stdout).toContain("✗ blocked  looping")
    expect(r.stdout).toContain("no target was touched")
    expect(r.stdout).toMatch(TIMED_OUT)
    expect([...fleet(store).targets.values()].every((t) => t.history.length === 0)).toBe(true)
    const status = JSON.parse((await sluice(["status", "looping", "--json", "--store", store])).stdout) as {
      outcome: string
      violations: Array<{ rule: string }>
    }
    expect(status.outcome).toBe("blocked")
    // The built-in bundle allows this workload: every violation is the time limit's.
    expect(status.violations.length).toBeGreaterThan(0)
    expect(status.violations.every((v) => v.rule === "engine/timeout")).toBe(true)
  })

  it("policy eval --timeout denies (exit 2) instead of hanging", async () => {
    const input = path.join(dir, "pod.json")
    fs.writeFileSync(
      input,
      JSON.stringify({ workload: { platform: "kubernetes", kind: "DaemonSet", name: "agent", containers: [] } })
    )
    const r = await sluice(["policy", "eval", bundle, input, "--timeout", "1s"], { killAfterMs: KILL_AFTER_MS })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toMatch(TIMED_OUT)
    const bad = await sluice(["policy", "eval", bundle, input, "--timeout", "0s"])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toContain('--timeout "0s" is not a positive duration (like 5s)')
  })

  it("policy test: a case whose evaluation times out fails, even one expecting a deny; the others still run", async () => {
    const cases = path.join(dir, "cases.yaml")
    fs.writeFileSync(
      cases,
      `cases:
  - name: expects a deny, gets a time-out
    input: { workload: { platform: kubernetes, kind: DaemonSet, name: agEnt, containers: [{ name: a, type: container, image: "r/a:1" }] } }
    expect: { allow: false }
  - name: runs after it
    input: { workload: { platform: kubernetes, kind: DaemonSet, name: agent, containers: [{ name: a, type: container, image: "r/a:1" }] } }
    expect: { allow: false }
`
    )
    const r = await sluice(["policy", "test", bundle, cases, "--timeout", "1s", "--json"], {
      killAfterMs: KILL_AFTER_MS
    })
    expect(r.code, r.stderr).toBe(2)
    const report = JSON.parse(r.stdout) as {
      failed: number
      results: Array<{ name: string; passed: boolean; failures: Array<string> }>
    }
    expect(report.failed).toBe(2)
    for (const result of report.results) {
      expect(result.passed).toBe(false)
      expect(result.failures).toHaveLength(1)
      expect(result.failures[0]).toMatch(TIMED_OUT)
    }
  })
})
