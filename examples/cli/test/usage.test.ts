import { describe, expect, it } from "vitest"
import { fixture, sluice, tmpStore } from "./helpers.js"

const COMMANDS = [
  "plan",
  "apply",
  "status",
  "list",
  "pause",
  "resume",
  "abort",
  "approve",
  "promote",
  "rollback",
  "policy test",
  "policy eval"
]

describe("usage and spec errors", () => {
  it("prints help for the CLI and every command", async () => {
    const top = await sluice(["--help"])
    expect(top.code).toBe(0)
    expect(top.stdout).toContain("Exit codes:")
    for (const c of COMMANDS) {
      const r = await sluice([...c.split(" "), "--help"])
      expect(r.code, c).toBe(0)
      expect(r.stdout, c).toContain(`Usage: sluice ${c}`)
    }
  })

  it("exits 64 on an unknown command or option, naming it", async () => {
    const cmd = await sluice(["aply"])
    expect(cmd.code).toBe(64)
    expect(cmd.stderr).toContain('unknown command "aply" (did you mean apply?)')
    const opt = await sluice(["apply", "-f", fixture("rolling.yaml"), "--fleet-sise", "3"])
    expect(opt.code).toBe(64)
    expect(opt.stderr).toContain("unknown option --fleet-sise for `sluice apply` (did you mean --fleet-size?)")
    const missing = await sluice(["apply"])
    expect(missing.code).toBe(64)
    expect(missing.stderr).toContain("missing the spec: -f <file>")
    const noValue = await sluice(["plan", "-f"])
    expect(noValue.code).toBe(64)
    expect(noValue.stderr).toContain("-f needs a value")
  })

  it("exits 64 on a bad --faults item, naming the bad part", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--store",
      store,
      "--faults",
      "transient=0.05,fail-after=:2.2.0@3x"
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('--faults item 2 "fail-after=:2.2.0@3x": "3x" is not a duration')
    const kind = await sluice(["apply", "-f", fixture("rolling.yaml"), "--store", store, "--faults", "explode=:1"])
    expect(kind.code).toBe(64)
    expect(kind.stderr).toContain('unknown fault kind "explode"')
  })

  it("lists every spec problem with its path, and no stack trace", async () => {
    const r = await sluice(["apply", "-f", fixture("invalid.yaml"), "--store", tmpStore()])
    expect(r.code).toBe(64)
    expect(r.stdout).toBe("")
    expect(r.stderr).toMatch(/invalid Rollout spec .*invalid\.yaml \(\d+ problems\)/)
    expect(r.stderr).toContain("metadata.name:")
    expect(r.stderr).toContain("spec.strategy.canary.steps[1].setWeight:")
    expect(r.stderr).toContain("spec.strategy.canary.steps[2].pause.duration:")
    expect(r.stderr).toContain("spec.health.progressDeadline:")
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it("reports --set and stdin problems with their source", async () => {
    const text = await import("node:fs").then((fs) => fs.readFileSync(fixture("rolling.yaml"), "utf8"))
    const r = await sluice(["plan", "-f", "-", "--store", tmpStore(), "--set", "spec.strategy.rolling.batchSize=0"], {
      stdin: text
    })
    expect(r.code).toBe(64)
    expect(r.stderr).toContain("spec.strategy.rolling.batchSize:")
    expect(r.stderr).toContain("--set spec.strategy.rolling.batchSize=0")
  })

  it("exits 64 for a missing spec file and an unknown rollout", async () => {
    const file = await sluice(["plan", "-f", "nope.yaml", "--store", tmpStore()])
    expect(file.code).toBe(64)
    expect(file.stderr).toContain("cannot read spec file nope.yaml: no such file")
    const status = await sluice(["status", "nope", "--store", tmpStore()])
    expect(status.code).toBe(64)
    expect(status.stderr).toContain("no rollout nope")
  })

  it("says so when the store has no rollout", async () => {
    const store = tmpStore()
    const list = await sluice(["list", "--store", store])
    expect(list.code).toBe(0)
    expect(list.stdout).toContain("no rollouts in")
    const status = await sluice(["status", "--store", store])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain("no rollouts in")
    const json = await sluice(["status", "--json", "--store", store])
    expect(json.stdout.trim()).toBe("null")
  })

  it("plan --json is stable: same spec and fleet, same bytes", async () => {
    const store = tmpStore()
    const args = ["plan", "-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "40", "--json"]
    const a = await sluice(args)
    const b = await sluice(args)
    expect(a.code).toBe(0)
    expect(a.stdout).toBe(b.stdout)
    const plan = JSON.parse(a.stdout) as { waves: Array<{ targets: string[] }>; fingerprint: string }
    expect(plan.waves.flatMap((w) => w.targets)).toHaveLength(40)
    expect(plan.fingerprint).toMatch(/^[0-9a-f]{64}$/)
    const table = await sluice(["plan", "-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "40"])
    expect(table.code).toBe(0)
    expect(table.stdout).toContain("WAVE")
  })
})
