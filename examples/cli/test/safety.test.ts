/**
 * Corners that used to pass silently or fail open (issue 14, "Safety bugs"): an --adapter-config
 * with unknown keys, an unusable store, a selector that matches nothing, a --faults item naming a
 * target the fleet does not have, and an audit stream that contradicted the gate it recorded.
 * Each test asserts exit codes and messages, never how long something took.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { events, FAST, fixture, fleet, sluice, tmpStore } from "./helpers.js"

const SPEC = fixture("rolling.yaml")
const small = (store: string, size = 12) => ["--store", store, "--fleet-size", String(size), ...FAST]

describe("--adapter-config for docker is decoded strictly", () => {
  const setup = () => {
    const dir = tmpStore()
    fs.writeFileSync(
      path.join(dir, "rollout.yaml"),
      `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: docker, selector: { names: ["agent-*"] } }
  artifact: { image: localhost:5000/sluice/agent:v2 }
  strategy: { rolling: { batchSize: 1 } }
  gates: { scan: { enabled: false } }
`
    )
    return dir
  }
  const plan = (dir: string, config: string) => {
    fs.writeFileSync(path.join(dir, "adapter.yaml"), config)
    return sluice([
      "plan",
      "-f",
      path.join(dir, "rollout.yaml"),
      "--adapter-config",
      path.join(dir, "adapter.yaml"),
      "--store",
      dir
    ])
  }

  it("a typo is an error with its path and a did-you-mean, not the local engine", async () => {
    const dir = setup()
    const r = await plan(dir, "hosts:\n  - name: remote\n    endpont: tcp://10.255.255.1:2375\n")
    expect(r.code, r.stdout + r.stderr).toBe(64)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("invalid docker adapter configuration in --adapter-config")
    expect(r.stderr).toContain("hosts[0].endpont: unknown field (did you mean endpoint?)")
  })

  it("host:/port: keys are errors that point at endpoint", async () => {
    const dir = setup()
    const r = await plan(dir, "hosts:\n  - name: remote\n    host: 10.255.255.1\n    port: 2375\n")
    expect(r.code, r.stdout + r.stderr).toBe(64)
    expect(r.stderr).toContain("(2 problems)")
    expect(r.stderr).toMatch(/^\s+hosts\[0\]\.host: unknown field \(.*endpoint: tcp:\/\/<host>:<port>/m)
    expect(r.stderr).toMatch(/^\s+hosts\[0\]\.port: unknown field/m)
  })
})

describe("an unusable store is a usage error (exit 64) naming the path and the reason", () => {
  it("a regular file, or a path under one", async () => {
    const dir = tmpStore()
    const file = path.join(dir, "a-file")
    fs.writeFileSync(file, "")
    const r = await sluice(["apply", "-f", SPEC, ...small(file)], { killAfterMs: 30_000 })
    expect(r.code, r.stderr).toBe(64)
    expect(r.stderr).toBe(`error: --store ${file}: not a directory\n`)
    const under = await sluice(["apply", "-f", SPEC, ...small(path.join(file, "sub"))], { killAfterMs: 30_000 })
    expect(under.code, under.stderr).toBe(64)
    expect(under.stderr).toBe(`error: --store ${path.join(file, "sub")}: ${file} is not a directory\n`)
    const status = await sluice(["status", "--store", file], { killAfterMs: 30_000 })
    expect(status.code, status.stderr).toBe(64)
    expect(status.stderr).toContain(`--store ${file}: not a directory`)
  })

  // Linux only, as the whole suite (the CI machines are Linux): /proc is where mkdir never returns.
  it("a directory that cannot be created (/proc/nope) ends instead of spinning", async () => {
    const r = await sluice(["apply", "-f", SPEC, ...small("/proc/nope")], { killAfterMs: 30_000 })
    expect(r.code, `killed: ${r.code === null}; ${r.stderr}`).toBe(64)
    expect(r.stderr).toMatch(/^error: --store \/proc\/nope: cannot create \/proc\/nope: .+\n$/)
  })
})

describe("a selector that matches nothing", () => {
  const nowhere = ["--set", "spec.target.selector.matchLabels.zone=zone-x"]

  it("apply stops with exit 64 before the rollout is stored; --allow-empty goes on with a warning", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", SPEC, "--id", "empty", ...nowhere, ...small(store)])
    expect(r.code, r.stdout + r.stderr).toBe(64)
    expect(r.stderr).toContain(
      'spec.target.selector {"matchLabels":{"zone":"zone-x"}} matches no target on the simulated adapter'
    )
    expect(r.stderr).toContain("--allow-empty")
    expect(fs.existsSync(path.join(store, "empty"))).toBe(false)
    const allowed = await sluice(["apply", "-f", SPEC, "--id", "empty", "--allow-empty", ...nowhere, ...small(store)])
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0)
    expect(allowed.stderr).toMatch(/^warning: spec\.target\.selector .* matches no target/m)
  })

  it("plan warns", async () => {
    const store = tmpStore()
    const r = await sluice(["plan", "-f", SPEC, ...nowhere, "--store", store])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/^warning: spec\.target\.selector .* matches no target on the simulated adapter/m)
    const some = await sluice(["plan", "-f", SPEC, "--store", store])
    expect(some.stderr).not.toContain("matches no target")
  })

  it("--allow-empty is documented in apply --help", async () => {
    const r = await sluice(["apply", "--help"])
    expect(r.stdout).toMatch(/--allow-empty\s+go on \(with a warning\) when spec\.target\.selector matches no target/)
  })
})

describe("a --faults item naming a target the fleet does not have", () => {
  it("apply stops with exit 64 naming the item (with the fleet's padding as a hint); --allow-empty warns", async () => {
    const store = tmpStore()
    const faults = ["--faults", "permanent=node-99,never-healthy=:2.0.0#node-01+node-3"]
    const deadline = ["--set", "spec.health.progressDeadline=1s"]
    const r = await sluice(["apply", "-f", SPEC, "--id", "f1", ...faults, ...deadline, ...small(store)])
    expect(r.code, r.stdout + r.stderr).toBe(64)
    expect(r.stderr).toContain('--faults item "permanent=node-99" names node-99, which is not in the simulated fleet')
    expect(r.stderr).toContain("names node-3, which is not in the simulated fleet (did you mean node-03?)")
    expect(r.stderr).not.toContain("node-01,")
    expect(fs.existsSync(path.join(store, "f1"))).toBe(false)
    const allowed = await sluice([
      "apply",
      "-f",
      SPEC,
      "--id",
      "f2",
      "--allow-empty",
      ...faults,
      ...deadline,
      ...small(store)
    ])
    expect(allowed.stderr).toMatch(/^warning: --faults item "permanent=node-99" names node-99/m)
    expect(allowed.stderr).toMatch(/^warning: --faults item "never-healthy=:2\.0\.0#node-01\+node-3" names node-3/m)
    // node-01 exists and never becomes healthy: the rollout fails and rolls back (exit 3).
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(3)
    expect(fleet(store).size).toBe(12)
  })
})

describe("the audit stream agrees with the gates", () => {
  it("with the scan gate off, every policyDecision allows when the policy gate does", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      SPEC,
      "--json",
      "--set",
      "spec.gates.policy.enabled=true",
      "--set",
      "spec.gates.scan.enabled=false",
      ...small(store, 6)
    ])
    expect(r.code, r.stderr).toBe(0)
    const evs = events(r.stdout)
    const decisions = evs.filter((e) => e.type === "policyDecision")
    const gates = evs.filter((e) => e.type === "gateDecided")
    expect(decisions.length).toBeGreaterThan(0)
    expect(gates.length).toBeGreaterThan(0)
    expect(gates.every((g) => g.gate === "policy" && g.allow === true)).toBe(true)
    for (const d of decisions) {
      const decision = d.decision as { allow: boolean; deny: Array<{ gate: string }>; warn: Array<{ gate: string }> }
      expect(decision.allow, JSON.stringify(decision)).toBe(true)
      // Every violation names its gate; none of the disabled scan gate is recorded.
      expect([...decision.deny, ...decision.warn].every((v) => v.gate === "policy")).toBe(true)
    }
  })
})
