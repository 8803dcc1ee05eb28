import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { fixture, MAIN, sluice, tmpStore } from "./helpers.js"

/** The opa `npm run setup` builds; coverage and mutation testing run it (fail under CI without it). */
const OPA = fileURLToPath(new URL("../../../.tools/bin/opa", import.meta.url))
const haveOpa = fs.existsSync(OPA)
if (!haveOpa && process.env.CI === "true") throw new Error(`policy coverage/mutation tests: no opa at ${OPA}`)
if (!haveOpa) console.warn(`NOTICE: skipping the policy coverage/mutation tests: no opa at ${OPA} (npm run setup)`)

const POLICIES = fileURLToPath(new URL("../../../packages/policies", import.meta.url))
const BUILTIN_SOURCES = path.join(POLICIES, "policies")
const BUILTIN_DATA = path.join(POLICIES, "data", "data.json")

// A small policy whose cases pass yet miss a branch and a boundary (see its cases.yaml).
const WEAK = fixture("weak-policy")
const WEAK_POLICY = path.join(WEAK, "policy")
const WEAK_CASES = path.join(WEAK, "cases.yaml")
const REGISTRY = path.join(WEAK_POLICY, "registry.rego")

interface MutantJson {
  readonly path: string
  readonly line: number
  readonly column: number
  readonly operator: string
  readonly original: string
  readonly replacement: string
  readonly status: string
  readonly detail?: string
}
interface MutationJson {
  readonly generated: number
  readonly run: number
  readonly killed: number
  readonly survived: number
  readonly invalid: number
  readonly errors: number
  readonly score: number | null
  readonly regoTests: number
  readonly mutants: ReadonlyArray<MutantJson>
}

/**
 * The built-in policies' own cases: their samples (samples/*.json: an input and its expected
 * decision) as a cases file. A sample's `params` replace the data's; a case passes them as
 * `input.params`, which the policies read first, key by key (every such sample sets every key
 * the data does, so the decision is the same). The one sample without a workload is left out.
 */
const builtinCases = (dir: string) => {
  const cases: Array<unknown> = []
  for (const policy of fs.readdirSync(BUILTIN_SOURCES).sort()) {
    const samples = path.join(BUILTIN_SOURCES, policy, "samples")
    if (!fs.existsSync(samples)) continue
    for (const file of fs.readdirSync(samples).sort()) {
      const doc = JSON.parse(fs.readFileSync(path.join(samples, file), "utf8")) as Record<
        string,
        {
          params?: unknown
          input: { workload?: unknown }
          expected: { allow: boolean; deny: Array<string>; warn: Array<string> }
        }
      >
      const sample = Object.values(doc)[0]!
      if (sample.input.workload === undefined) continue
      const input = sample.params === undefined ? sample.input : { ...sample.input, params: sample.params }
      cases.push({ name: `${policy}/${file}`, input, expect: sample.expected })
    }
  }
  const file = path.join(dir, "builtin-cases.json")
  fs.writeFileSync(file, JSON.stringify({ cases }))
  return { file, count: cases.length }
}

describe.skipIf(!haveOpa)("sluice policy test --coverage", () => {
  it("shows the lines and rules of a weak policy that no case reaches", async () => {
    const r = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain("PASS: 4/4")
    // 10 is the debug-tag rule's head (it never fires), 13 its last condition (never reached).
    expect(r.stdout).toContain(`coverage: 83.3% (10/12 lines, 4 cases)`)
    expect(r.stdout).toContain(`83.3%  ${REGISTRY}\n          not covered: lines 10, 13\n`)
    expect(r.stdout).toContain("never fired: deny (line 10)\n")

    const json = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage", "--json"])
    const coverage = JSON.parse(json.stdout).coverage
    expect(coverage.files).toEqual([
      {
        file: REGISTRY,
        coveredLines: [5, 6, 7, 11, 12, 16, 17, 18, 21, 22],
        notCoveredLines: [10, 13],
        percent: 83.3,
        rules: [
          { name: "deny", line: 5, covered: true },
          { name: "deny", line: 10, covered: false },
          { name: "deny", line: 16, covered: true },
          { name: "deny", line: 21, covered: true }
        ]
      }
    ])
  })

  it("--coverage-min above the coverage exits 5, at or below it passes; junit fails the file", async () => {
    const low = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage-min", "90"])
    expect(low.code, low.stdout + low.stderr).toBe(5)
    expect(low.stdout).toContain("FAIL: below --coverage-min 90%")
    const ok = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage-min", "80"])
    expect(ok.code, ok.stdout + ok.stderr).toBe(0)
    const junit = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage-min", "90", "--output", "junit"])
    expect(junit.code).toBe(5)
    expect(junit.stdout).toContain(`<testsuite name="coverage" tests="2" failures="2"`)
    expect(junit.stdout).toContain(
      `<failure message="coverage 83.3% is below --coverage-min 90%">83.3%; not covered: lines 10, 13; never fired: deny (line 10)</failure>`
    )
    const bad = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--coverage-min", "ninety"])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toContain('--coverage-min "ninety" is not a percentage from 0 to 100')
  })

  it("needs the Rego sources: a compiled bundle is a usage error", async () => {
    for (const flag of ["--coverage", "--mutate"]) {
      const r = await sluice(["policy", "test", "builtin", WEAK_CASES, flag])
      expect(r.code, r.stderr).toBe(64)
      expect(r.stderr).toContain(`${flag} needs the policy's Rego sources: builtin is a compiled bundle`)
    }
  })
})

describe.skipIf(!haveOpa)("sluice policy test --mutate", () => {
  it("lists the mutants the weak cases miss as file:line:column with the change", async () => {
    const r = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--mutate", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const mutation = JSON.parse(r.stdout).mutation as MutationJson
    const survivors = mutation.mutants
      .filter((m) => m.status === "survived")
      .map((m) => `${m.path}:${m.line}:${m.column} ${m.operator}: ${m.original} → ${m.replacement}`)
    expect(survivors).toEqual([
      `${REGISTRY}:10:24 change-constant: "registry/debug-tag" → ""`,
      `${REGISTRY}:13:2 drop-condition: input.workload.platform == "kubernetes" → true`,
      `${REGISTRY}:13:26 negate-comparison: == → !=`,
      `${REGISTRY}:13:29 change-constant: "kubernetes" → ""`,
      // No case has exactly 4 containers: > 3 and > 4 cannot be told apart.
      `${REGISTRY}:22:37 change-constant: 3 → 4`
    ])
    // The some → every swap of the latest-tag rule is killed by the case with one latest sidecar.
    expect(mutation.mutants.find((m) => m.operator === "some-to-every")).toMatchObject({
      line: 17,
      status: "killed",
      detail: "a sidecar on the latest tag is denied"
    })
    expect(mutation).toMatchObject({ generated: 18, run: 18, killed: 13, survived: 5, errors: 0, invalid: 0 })
    expect(mutation.score).toBe(72.2)

    const text = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--mutate"])
    expect(text.stdout).toContain(
      "mutation score: 72.2% (13 killed, 5 survived, 0 errors, 0 invalid; 18 of 18 mutants run)\n"
    )
    expect(text.stdout).toContain(`  ${REGISTRY}:22:37  change-constant: 3 → 4\n`)
  })

  it("--mutate-min above the score exits 5; --mutate-max bounds the run; junit fails each survivor", async () => {
    const low = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--mutate-min", "80", "--mutate-max", "8"])
    expect(low.code, low.stdout + low.stderr).toBe(5)
    expect(low.stdout).toMatch(/FAIL: below --mutate-min 80% \(.*; 8 of 18 mutants run\)/)
    const junit = await sluice(["policy", "test", WEAK_POLICY, WEAK_CASES, "--mutate", "--output", "junit"])
    expect(junit.code).toBe(0)
    expect(junit.stdout).toContain(`<testsuite name="mutation" tests="18" failures="5" errors="0" skipped="0"`)
    expect(junit.stdout.match(/<failure message="survived: no case fails on this mutant"\/>/g)).toHaveLength(5)
  })

  it("a mutant the engine cannot evaluate is an error, counted as not killed; failing cases skip the run", async () => {
    const dir = tmpStore()
    fs.mkdirSync(path.join(dir, "kinds"))
    // Line 7's != turned into == defines _kind twice for a DaemonSet: a conflict, which the engine
    // turns into a deny (fail closed). The case only expects a deny, so it passes on that mutant.
    fs.writeFileSync(
      path.join(dir, "kinds", "kinds.rego"),
      `package sluice.policies.kinds

deny contains {"rule": "kinds/daemonset", "message": "no DaemonSets"} if _kind == "daemonset"

_kind := "daemonset" if input.workload.kind == "DaemonSet"

_kind := "other" if input.workload.kind != "DaemonSet"
`
    )
    const cases = path.join(dir, "cases.yaml")
    fs.writeFileSync(
      cases,
      `cases:
  - name: a DaemonSet is denied
    input: { workload: { platform: kubernetes, kind: DaemonSet, name: a, containers: [{ name: a, type: container, image: "r/a:1" }] } }
    expect: { allow: false }
`
    )
    const r = await sluice(["policy", "test", path.join(dir, "kinds"), cases, "--mutate", "--json"])
    expect(r.code, r.stderr).toBe(0)
    const mutation = JSON.parse(r.stdout).mutation as MutationJson
    const conflict = mutation.mutants.find((m) => m.line === 7 && m.operator === "negate-comparison")
    expect(conflict).toMatchObject({ status: "error" })
    expect(conflict?.detail).toMatch(/^a DaemonSet is denied: \[engine\//)
    expect(mutation.errors).toBeGreaterThan(0)
    // Errors count against the score: killed / (run - invalid).
    expect(mutation.score).toBe(Math.round((mutation.killed / (mutation.run - mutation.invalid)) * 1000) / 10)

    fs.writeFileSync(cases, fs.readFileSync(cases, "utf8").replace("allow: false", "allow: true"))
    const failing = await sluice(["policy", "test", path.join(dir, "kinds"), cases, "--mutate"])
    expect(failing.code).toBe(2)
    expect(failing.stderr).toContain("mutation testing skipped: 1 of 1 cases fail on the unmutated policy")
    expect(failing.stdout).not.toContain("mutation score")
  })

  it("a mutant that hangs the engine is stopped after --mutate-timeout and counted as an error", async () => {
    const dir = tmpStore()
    fs.mkdirSync(path.join(dir, "upper"))
    // replace(x, "", y) never returns in opa's Wasm: the "E" → "" mutant loops forever.
    fs.writeFileSync(
      path.join(dir, "upper", "upper.rego"),
      `package sluice.policies.upper

deny contains {"rule": "upper/e", "message": "an upper-case E in the name"} if {
\treplace(input.workload.name, "E", "e") != input.workload.name
}
`
    )
    const cases = path.join(dir, "cases.yaml")
    fs.writeFileSync(
      cases,
      `cases:
  - name: a name with an E is denied
    input: { workload: { platform: kubernetes, kind: DaemonSet, name: agEnt, containers: [{ name: a, type: container, image: "r/a:1" }] } }
    expect: { allow: false, deny: [upper/e] }
`
    )
    const r = await sluice([
      "policy",
      "test",
      path.join(dir, "upper"),
      cases,
      "--mutate",
      "--mutate-timeout",
      "3",
      "--json"
    ])
    expect(r.code, r.stderr).toBe(0)
    const mutation = JSON.parse(r.stdout).mutation as MutationJson
    expect(mutation.mutants.find((m) => m.line === 4 && m.original === '"E"')).toMatchObject({
      status: "error",
      detail:
        "a name with an E is denied: its evaluation did not finish within 3 s on this mutant (it hangs the engine)"
    })
    expect(mutation).toMatchObject({ run: 5, errors: 1 })
    expect(mutation.score).toBe(40)
  })

  it("the built-in policies: their samples and opa tests kill most mutants (a bounded, spread sample)", async () => {
    const { file, count } = builtinCases(tmpStore())
    expect(count).toBeGreaterThan(30)
    const r = await sluice([
      "policy",
      "test",
      BUILTIN_SOURCES,
      file,
      "--data",
      BUILTIN_DATA,
      "--coverage",
      "--mutate",
      "--mutate-max",
      "40",
      "--json"
    ])
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout) as { passed: number; coverage: { percent: number }; mutation: MutationJson }
    expect(out.passed).toBe(count)
    const m = out.mutation
    const survivors = m.mutants
      .filter((x) => x.status === "survived")
      .map((x) => `${path.relative(BUILTIN_SOURCES, x.path)}:${x.line} ${x.operator}: ${x.original} → ${x.replacement}`)
    console.log(
      `built-in policies: mutation score ${m.score}% (${m.killed} killed, ${m.survived} survived, ${m.errors} errors, ${m.invalid} invalid; ${m.run} of ${m.generated} mutants, ${m.regoTests} opa tests and ${count} sample cases); coverage by the samples alone ${out.coverage.percent}%\nsurvivors:\n  ${survivors.join("\n  ")}`
    )
    expect(m.regoTests).toBeGreaterThan(100)
    expect(m.run).toBe(40)
    expect(m.generated).toBeGreaterThan(1000)
    expect(m.errors).toBe(0)
    expect(m.score).toBeGreaterThanOrEqual(90)
  }, 300_000)
})

describe.skipIf(!haveOpa)("the policies README's coverage and mutation example", () => {
  it("is what the command prints in the weak fixture's folder", () => {
    const readme = fs.readFileSync(path.join(POLICIES, "README.md"), "utf8")
    const command = "$ sluice policy test policy cases.yaml --coverage --mutate\n"
    const start = readme.indexOf(command)
    expect(start).toBeGreaterThan(0)
    const shown = readme.slice(start + command.length, readme.indexOf("```", start))
    const r = spawnSync(process.execPath, [MAIN, "policy", "test", "policy", "cases.yaml", "--coverage", "--mutate"], {
      cwd: WEAK,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" }
    })
    expect(r.status, r.stderr).toBe(0)
    // The report names the cases file by its absolute path; the README by the name given.
    expect(r.stdout.replace(`${WEAK}${path.sep}`, "")).toBe(shown)
  })
})
