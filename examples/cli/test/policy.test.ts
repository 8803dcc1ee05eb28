import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { fixture, sluice, tmpStore } from "./helpers.js"

const P = (name: string) => fixture(`policy/${name}`)
/** A folder of Rego sources (not a compiled bundle). */
const REGO_SOURCES = fileURLToPath(new URL("../../../packages/policies/policies/non-root", import.meta.url))

describe("sluice policy test / eval (built-in bundle)", () => {
  it("runs a cases file: 0 when every case passes, 2 when one fails", async () => {
    const ok = await sluice(["policy", "test", "builtin", P("cases.yaml"), "--verbose"])
    expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    expect(ok.stdout).toContain("PASS: 2/2")
    const wrong = await sluice(["policy", "test", "builtin", P("wrong-cases.yaml")])
    expect(wrong.code).toBe(2)
    expect(wrong.stdout).toContain("FAIL: expects root to be allowed")
    const json = await sluice(["policy", "test", "builtin", P("cases.yaml"), "--json"])
    expect(JSON.parse(json.stdout)).toMatchObject({ passed: 2, failed: 0, total: 2 })
  })

  it("--output junit writes JUnit XML (a failure element per failing case, its reasons in it); a bad --output is a usage error", async () => {
    const wrong = await sluice(["policy", "test", "builtin", P("wrong-cases.yaml"), "--output", "junit"])
    expect(wrong.code).toBe(2)
    expect(
      wrong.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="sluice policy test"')
    ).toBe(true)
    const cases = [...wrong.stdout.matchAll(/<testcase [^>]*name="([^"]*)"/g)].map((m) => m[1])
    expect(cases).toEqual(["expects root to be allowed (wrong on purpose)"])
    expect(wrong.stdout).toMatch(/<failure message="expected allow=true, got allow=false [^"]*">[^<]+<\/failure>/)
    expect(wrong.stdout).toContain('tests="1" failures="1"')
    const ok = await sluice(["policy", "test", "builtin", P("cases.yaml"), "--output", "junit"])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('tests="2" failures="0"')
    expect(ok.stdout).not.toContain("<failure")
    const bad = await sluice(["policy", "test", "builtin", P("cases.yaml"), "--output", "xml"])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toContain('--output "xml" is not text, json or junit')
  })

  it("evaluates one workload: 0 allowed, 2 denied with the rule and container", async () => {
    const allowed = await sluice(["policy", "eval", "builtin", P("agent-ok.yaml"), "--scan", P("scan.json")])
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0)
    expect(allowed.stdout).toContain("ALLOW")
    const denied = await sluice(["policy", "eval", "builtin", P("agent-root.yaml"), "--scan", P("scan.json"), "--json"])
    expect(denied.code).toBe(2)
    const out = JSON.parse(denied.stdout) as {
      decision: { allow: boolean; deny: Array<{ rule: string; container?: string }> }
    }
    expect(out.decision.allow).toBe(false)
    expect(out.decision.deny.some((d) => d.rule === "non-root" && d.container === "agent")).toBe(true)
  })

  it("exits 64 on a missing file or bundle", async () => {
    const input = await sluice(["policy", "eval", "builtin", P("nope.yaml")])
    expect(input.code).toBe(64)
    expect(input.stderr).toContain("no input file")
    const bundle = await sluice(["policy", "test", "no-such-bundle", P("cases.yaml")])
    expect(bundle.code).toBe(64)
    const sub = await sluice(["policy", "lint"])
    expect(sub.code).toBe(64)
    expect(sub.stderr).toContain('unknown policy command "lint"')
  })

  it("fails the run (exit 64, one line) when the bundle cannot be loaded, even if every case expects a deny", async () => {
    const dir = tmpStore()
    const cases = path.join(dir, "deny.yaml")
    fs.writeFileSync(
      cases,
      `cases:\n  - name: root is denied\n    inputFile: ${P("agent-root.yaml")}\n    expect: { allow: false, deny: [non-root] }\n`
    )
    // A folder that is neither a bundle nor Rego sources (a folder of Rego is compiled: see below).
    const notABundle = path.join(dir, "not-a-bundle")
    fs.mkdirSync(notABundle)
    fs.writeFileSync(path.join(notABundle, "README.md"), "policies go here\n")
    for (const bundle of [notABundle, P("agent-root.yaml")]) {
      for (const extra of [[], ["--json"]]) {
        const r = await sluice(["policy", "test", bundle, cases, ...extra])
        expect(r.code, r.stdout + r.stderr).toBe(64)
        expect(r.stdout).toBe("")
        expect(r.stderr.trimEnd().split("\n")).toHaveLength(1)
        expect(r.stderr).toMatch(/^error: policy bundle \S+ cannot be loaded: /)
      }
    }
    const empty = await sluice(["policy", "test", notABundle, cases])
    expect(empty.stderr).toContain("no policy.wasm")
  })
})

/** The opa `npm run setup` builds; the policy-build tests need it (and fail under CI without it). */
const OPA = fileURLToPath(new URL("../../../.tools/bin/opa", import.meta.url))
const haveOpa = fs.existsSync(OPA)
if (!haveOpa && process.env.CI === "true") throw new Error(`policy build tests: no opa at ${OPA} (npm run setup)`)
if (!haveOpa) console.warn(`NOTICE: skipping the policy build tests: no opa at ${OPA} (npm run setup builds it)`)

describe.skipIf(!haveOpa)("sluice policy build, and policy test/eval of a Rego folder", () => {
  const NO_LATEST = `package sluice.policies.no_latest

deny contains {"rule": "no-latest", "message": sprintf("container %s uses a :latest image", [c.name]), "container": c.name} if {
\tsome c in input.workload.containers
\tendswith(c.image, ":latest")
}
`
  const latestAgent = (dir: string) => {
    const file = path.join(dir, "agent-latest.yaml")
    fs.writeFileSync(file, fs.readFileSync(P("agent-ok.yaml"), "utf8").replace("node-agent:2.0.0", "node-agent:latest"))
    return file
  }

  it("compiles a folder of package sluice.policies.* files, with the decision entrypoint added, into a bundle that denies", async () => {
    const dir = tmpStore()
    fs.mkdirSync(path.join(dir, "mine"))
    fs.writeFileSync(path.join(dir, "mine", "no_latest.rego"), NO_LATEST)
    const out = path.join(dir, "mine.tar.gz")
    const built = await sluice(["policy", "build", path.join(dir, "mine"), "-o", out])
    expect(built.code, built.stderr).toBe(0)
    expect(built.stdout).toContain(
      "1 .rego file, entrypoint sluice/decision (the built-in decision.rego and lib added)"
    )
    const denied = await sluice(["policy", "eval", out, latestAgent(dir), "--json"])
    expect(denied.code, denied.stderr).toBe(2)
    const decision = JSON.parse(denied.stdout).decision as { deny: Array<{ rule: string; container?: string }> }
    expect(decision.deny).toEqual([expect.objectContaining({ rule: "no-latest", container: "agent" })])
    const allowed = await sluice(["policy", "eval", out, P("agent-ok.yaml")])
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0)
  })

  it("policy test and eval take the folder directly; a compile error is one line, exit 64", async () => {
    const dir = tmpStore()
    fs.mkdirSync(path.join(dir, "mine"))
    fs.writeFileSync(path.join(dir, "mine", "no_latest.rego"), NO_LATEST)
    const cases = path.join(dir, "cases.yaml")
    fs.writeFileSync(
      cases,
      `cases:\n  - name: latest is denied\n    inputFile: ${latestAgent(dir)}\n    expect: { allow: false, deny: [no-latest] }\n  - name: a pinned tag passes\n    inputFile: ${P("agent-ok.yaml")}\n    expect: { allow: true }\n`
    )
    const tested = await sluice(["policy", "test", path.join(dir, "mine"), cases])
    expect(tested.code, tested.stdout + tested.stderr).toBe(0)
    expect(tested.stdout).toContain("PASS: 2/2")
    expect(tested.stderr).toContain("compiled")
    // The built-in non-root policy's sources compile the same way and deny root.
    const root = await sluice(["policy", "eval", REGO_SOURCES, P("agent-root.yaml"), "--json"])
    expect(root.code, root.stderr).toBe(2)
    expect(JSON.parse(root.stdout).decision.deny.some((d: { rule: string }) => d.rule === "non-root")).toBe(true)

    fs.writeFileSync(path.join(dir, "mine", "broken.rego"), "package sluice.policies.broken\n\ndeny contains x if {\n")
    const broken = await sluice(["policy", "build", path.join(dir, "mine"), "-o", path.join(dir, "b.tar.gz")])
    expect(broken.code).toBe(64)
    expect(broken.stdout).toBe("")
    expect(broken.stderr.trimEnd().split("\n")).toHaveLength(1)
    expect(broken.stderr).toMatch(/^error: cannot build \S+: .*broken\.rego/)
    expect(fs.existsSync(path.join(dir, "b.tar.gz"))).toBe(false)
  })
})
