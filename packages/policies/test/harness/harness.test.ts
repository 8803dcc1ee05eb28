import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import {
  evalPolicy,
  formatCaseResults,
  formatCaseResultsJUnit,
  formatDecision,
  runPolicyCases
} from "../../src/index.js"
import { bundle, fixture } from "../helpers.js"

describe("runPolicyCases", () => {
  it("passes every case of a cases file covering each input form", async () => {
    const report = await runPolicyCases(bundle("basic.tar.gz"), fixture("cases/basic-cases.yaml"))
    const failures = report.results.filter((r) => !r.passed).map((r) => `${r.name}: ${r.failures.join("; ")}`)
    expect(failures).toEqual([])
    expect(report).toMatchObject({ passed: 7, failed: 0, total: 7 })
    expect(report.bundles).toEqual([
      { name: "basic", revision: "basic-rev-1", location: bundle("basic.tar.gz"), status: "ready" }
    ])
  })

  it("reports failed expectations and unreadable inputs as failures, with reasons", async () => {
    const report = await runPolicyCases([bundle("basic.tar.gz")], fixture("cases/failing-cases.yaml"))
    expect(report).toMatchObject({ passed: 1, failed: 3, total: 4 })
    const [wrongAllow, missingDeny, missingFile, ok] = report.results
    expect(wrongAllow?.failures[0]).toMatch(/expected allow=true, got allow=false \(deny: \[basic\/privileged\]/)
    expect(missingDeny?.failures).toEqual(['expected a deny matching "basic/privileged", got: none'])
    expect(missingFile?.failures[0]).toMatch(/nope\.yaml: cannot read/)
    expect(missingFile?.decision).toBeUndefined()
    expect(ok?.passed).toBe(true)
  })

  it("formats results like opa test -v", async () => {
    const report = await runPolicyCases([bundle("basic.tar.gz")], fixture("cases/failing-cases.yaml"))
    const text = formatCaseResults(report)
    const lines = text.trimEnd().split("\n")
    expect(lines[0]).toBe(`${fixture("cases/failing-cases.yaml")}:`)
    expect(lines[1]).toMatch(/^FAIL: wrong allow expectation \(\d+\.\d+ms\)$/)
    expect(lines[2]).toMatch(/^ {2}expected allow=true/)
    expect(lines).toContainEqual(expect.stringMatching(/^PASS: passes \(\d+\.\d+ms\)$/))
    expect(lines.slice(-3)).toEqual(["-".repeat(80), "PASS: 1/4", "FAIL: 3/4"])
    const quiet = formatCaseResults(report, { verbose: false })
    expect(quiet).not.toMatch(/PASS: passes/)
    expect(quiet).toMatch(/PASS: 1\/4/)
  })

  it("rejects, running no case, when the bundle cannot be loaded, and says why", async () => {
    await expect(runPolicyCases(bundle("missing.tar.gz"), fixture("cases/basic-cases.yaml"))).rejects.toMatchObject({
      _tag: "BundleLoadError",
      bundle: "missing",
      message: expect.stringMatching(/does not exist/)
    })
  })

  it("does not pass a case expecting a deny against a folder of .rego sources (not a bundle)", async () => {
    // Fail closed denies every input, so a "should be denied" case used to pass for free.
    const dir = mkdtempSync(join(tmpdir(), "sluice-cases-"))
    const file = join(dir, "deny.yaml")
    writeFileSync(
      file,
      `cases:\n  - name: privileged is denied\n    inputFile: ${fixture("kubernetes/pod-from-api.json")}\n    expect: { allow: false }\n`
    )
    await expect(runPolicyCases(fixture("rego/basic"), file)).rejects.toMatchObject({
      _tag: "BundleLoadError",
      reason: "missing",
      message: expect.stringMatching(/no policy\.wasm/)
    })
  })

  it("treats a directory of bundles as all of them (a bundle directory stays one bundle)", async () => {
    const { copyFileSync, cpSync, mkdirSync } = await import("node:fs")
    const dir = mkdtempSync(join(tmpdir(), "sluice-bundles-"))
    copyFileSync(bundle("second.tar.gz"), join(dir, "b-second.tar.gz"))
    mkdirSync(join(dir, "a-basic"))
    cpSync(bundle("basic-dir"), join(dir, "a-basic"), { recursive: true })
    const report = await runPolicyCases(dir, fixture("cases/basic-cases.yaml"))
    expect(report.bundles.map((b) => b.name)).toEqual(["basic-dir", "b-second"])
    const one = await runPolicyCases(bundle("basic-dir"), fixture("cases/basic-cases.yaml"))
    expect(one.bundles.map((b) => b.name)).toEqual(["basic-dir"])
    expect(one.failed).toBe(0)
  })

  it("rejects an invalid cases file with every problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-cases-"))
    const file = join(dir, "bad.yaml")
    writeFileSync(
      file,
      "cases:\n  - name: a\n    expect: { allow: maybe }\n  - name: b\n    input: {}\n    inputFile: x.yaml\n    expect: { allow: true }\n"
    )
    await expect(runPolicyCases(bundle("basic.tar.gz"), file)).rejects.toMatchObject({
      _tag: "PolicyCasesError",
      message: expect.stringMatching(/\["cases"\]\[0\]\["expect"\]\["allow"\]/)
    })
    writeFileSync(file, "cases:\n  - name: b\n    input: {}\n    inputFile: x.yaml\n    expect: { allow: true }\n")
    await expect(runPolicyCases(bundle("basic.tar.gz"), file)).rejects.toMatchObject({
      message: expect.stringMatching(/exactly one of input or inputFile/)
    })
  })
})

describe("evalPolicy", () => {
  it("evaluates a Kubernetes manifest, picking the workload out of a multi-document file", async () => {
    const r = await evalPolicy(bundle("basic.tar.gz"), fixture("cases/multi-doc.yaml"), { now: "2026-11-21T00:00:00Z" })
    expect(r.decision.allow).toBe(false)
    expect(r.decision.deny.map((v) => v.rule)).toEqual(["basic/privileged"])
    expect(r.input).toMatchObject({ workload: { kind: "Deployment", name: "agent" }, now: "2026-11-21T00:00:00Z" })
    expect(r.inputSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it("evaluates `docker inspect` CLI output (a one-element array) and formats the decision", async () => {
    const r = await evalPolicy(
      [bundle("basic.tar.gz"), bundle("second.tar.gz")],
      fixture("cases/docker-inspect-cli.json")
    )
    expect(r.decision.allow).toBe(false)
    const text = formatDecision(r.decision, r.bundles)
    expect(text.split("\n").slice(0, 2)).toEqual(["bundles: basic@basic-rev-1, second@second-rev-7", "DENY"])
    expect(text).toMatch(
      / {2}deny {2}\[basic\/privileged\] container node-sensor is privileged \(container node-sensor\) \{basic\}/
    )
    expect(text).toMatch(/ {2}deny {2}\[second\/host-network\]/)
    expect(text).toMatch(/ {2}warn {2}\[basic\/latest\]/)
  })

  it("denies a Kubernetes object that is not a workload (engine/invalid-input)", async () => {
    const r = await evalPolicy(bundle("basic.tar.gz"), fixture("kubernetes/configmap.yaml"))
    expect(r.decision.allow).toBe(false)
    // The engine's own denial: once per gate (the harness asks about all of them).
    expect(r.decision.deny.map((v) => [v.rule, v.gate])).toEqual([
      ["engine/invalid-input", "policy"],
      ["engine/invalid-input", "scan"],
      ["engine/invalid-input", "signature"]
    ])
    expect(r.input).toBeUndefined()
  })

  it("rejects an input it cannot classify", async () => {
    await expect(evalPolicy(bundle("basic.tar.gz"), fixture("trivy/clean-image.json"))).rejects.toMatchObject({
      _tag: "HarnessInputError",
      message: expect.stringMatching(/cannot tell what this is/)
    })
  })
})

describe("formatCaseResultsJUnit", () => {
  const report = (name: string, failures: ReadonlyArray<string>) => ({
    file: "cases & <more>.yaml",
    bundles: [{ name: "b", revision: "r", location: "b", status: "broken" as const, error: "bad \u0001 wasm" }],
    results: [
      { name: "ok", passed: true, durationMs: 1.5, failures: [], decision: undefined },
      { name, passed: false, durationMs: 2, failures, decision: undefined }
    ],
    passed: 1,
    failed: 1,
    total: 2
  })

  it("escapes names, reasons and the file; characters XML cannot carry are replaced", () => {
    const out = formatCaseResultsJUnit(
      report(`"quoted" <b> & 'apos' \u0000`, ["expected <deny> & got \u001b[31mallow"])
    )
    expect(out).toContain('<testsuite name="cases &amp; &lt;more&gt;.yaml" tests="2" failures="1"')
    expect(out).toContain('name="&quot;quoted&quot; &lt;b&gt; &amp; &apos;apos&apos; \uFFFD"')
    expect(out).toContain("expected &lt;deny&gt; &amp; got \uFFFD[31mallow</failure>")
    expect(out).toContain("<system-err>ERROR: bundle b failed to load: bad \uFFFD wasm</system-err>")
    // Well formed as far as a regular check goes: no raw '&' that is not an entity, tags balanced.
    expect(out.replace(/&(amp|lt|gt|quot|apos);/g, "")).not.toMatch(/&/)
    expect(out.match(/<testcase /g)).toHaveLength(2)
    expect(out.match(/<\/testcase>/g)).toHaveLength(1)
    expect(out.match(/<testcase [^>]*\/>/g)).toHaveLength(1)
    expect(out.trimEnd().endsWith("</testsuites>")).toBe(true)
  })
})
