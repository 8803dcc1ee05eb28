import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { type EngineDecision, loadBundle, makeEvaluator, mergeData, type PolicyEvaluator } from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"
import * as G from "./generators.js"

// Differential tests: the same Rego sources evaluated by Sluice's Wasm engine (a bundle freshly
// built from packages/policies/policies) and by OPA's Go evaluator (`opa eval`), on >= 2,000
// generated inputs per policy. Decisions must be identical (deny/warn compared as sorted lists).

const pkg = fileURLToPath(new URL("../../", import.meta.url))
const repo = join(pkg, "..", "..")
const opa = join(repo, ".tools", "bin", "opa")
const haveOpa = existsSync(opa)
const RUNS = 2000
/** Each case spawns opa over 2,000 inputs; generous on a busy 2-core machine. */
const TIMEOUT = 300_000

const PROVISION = "opa is missing at .tools/bin/opa; provision it with: bash scripts/opa/build-opa.sh"

if (!haveOpa) {
  if (process.env.CI === "true") {
    describe("differential: Wasm engine vs opa eval", () => {
      it("needs the opa CLI in CI", () => {
        throw new Error(PROVISION)
      })
    })
  } else {
    console.warn(`\n*** SKIPPING the differential policy tests: ${PROVISION} ***\n`)
  }
}

const WRAPPER = `package sluicediff

decisions := {i: _one(c) | some i, c in input.cases}

_one(c) := d if {
	d := data.sluice.decision with input as c
} else := "undefined"
`

interface Fixture {
  readonly dir: string
  readonly wasmDir: string
  readonly defaultData: unknown
}

let fx: Fixture

/** Evaluates every case with `opa eval` in one process (a wrapper query maps the cases). */
const opaEval = (cases: ReadonlyArray<unknown>, dataFile: string): Array<unknown> => {
  const wrapper = join(fx.dir, "wrapper.rego")
  const r = spawnSync(
    opa,
    [
      "eval",
      "-f",
      "json",
      "--ignore",
      "*_test.rego",
      "--ignore",
      "samples",
      "-d",
      join(pkg, "policies"),
      "-d",
      dataFile,
      "-d",
      wrapper,
      "--stdin-input",
      "data.sluicediff.decisions"
    ],
    { input: JSON.stringify({ cases }), maxBuffer: 1 << 30, encoding: "utf8" }
  )
  if (r.status !== 0) throw new Error(`opa eval failed (${r.status}): ${r.stderr}`)
  const out = JSON.parse(r.stdout) as { result: Array<{ expressions: Array<{ value: Record<string, unknown> }> }> }
  const value = out.result[0]?.expressions[0]?.value ?? {}
  return cases.map((_, i) => value[String(i)])
}

const canonical = (d: unknown): unknown => {
  if (d === null || typeof d !== "object" || !("deny" in d)) return d
  const dec = d as EngineDecision
  const strip = (vs: EngineDecision["deny"]) =>
    vs
      .map((v) =>
        JSON.stringify(
          v.container !== undefined
            ? { rule: v.rule, message: v.message, container: v.container }
            : { rule: v.rule, message: v.message }
        )
      )
      .sort()
  return { allow: dec.allow, deny: strip(dec.deny), warn: strip(dec.warn) }
}

const compare = (name: string, evaluator: PolicyEvaluator, inputs: ReadonlyArray<unknown>, dataFile: string) => {
  const wasm = inputs.map((input) => evaluator.evaluateInput(input))
  const go = opaEval(inputs, dataFile)
  const mismatches: Array<string> = []
  for (let i = 0; i < inputs.length; i++) {
    const a = canonical(wasm[i])
    const b = canonical(go[i])
    if (JSON.stringify(a) !== JSON.stringify(b)) {
      mismatches.push(
        `#${i}\n  input: ${JSON.stringify(inputs[i])}\n  wasm:  ${JSON.stringify(a)}\n  opa:   ${JSON.stringify(b)}`
      )
    }
  }
  expect(
    mismatches.length,
    `${name}: ${mismatches.length}/${inputs.length} decisions differ; first:\n${mismatches.slice(0, 3).join("\n")}`
  ).toBe(0)
  return wasm
}

const ruleShare = (decisions: ReadonlyArray<EngineDecision>, prefix: string) =>
  decisions.filter((d) => d.deny.some((v) => v.rule === prefix || v.rule.startsWith(`${prefix}/`))).length /
  decisions.length

describe.skipIf(!haveOpa)("differential: Wasm engine vs opa eval", () => {
  let defaultEvaluator: PolicyEvaluator
  let scanEvaluator: PolicyEvaluator
  let defaultDataFile: string
  let scanDataFile: string

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "sluice-differential-"))
    const wasmDir = join(dir, "bundle")
    // A fresh bundle from the current sources, built exactly as the committed one is.
    const built = spawnSync("bash", [join(repo, "scripts", "opa", "build-bundle.sh"), "--out", wasmDir], {
      encoding: "utf8",
      env: { ...process.env, OPA: opa }
    })
    if (built.status !== 0) throw new Error(`build-bundle.sh failed: ${built.stderr}`)
    writeFileSync(join(dir, "wrapper.rego"), WRAPPER)
    const { readFileSync } = await import("node:fs")
    const defaultData = JSON.parse(readFileSync(join(pkg, "data", "data.json"), "utf8")) as unknown
    fx = { dir, wasmDir, defaultData }
    defaultDataFile = join(pkg, "data", "data.json")
    scanDataFile = join(dir, "scan-data.json")
    writeFileSync(scanDataFile, JSON.stringify(mergeData(defaultData, G.scanGateData)))
    defaultEvaluator = makeEvaluator([await Effect.runPromise(loadBundle(wasmDir))])
    scanEvaluator = makeEvaluator([await Effect.runPromise(loadBundle({ path: wasmDir, data: G.scanGateData }))])
  }, 120_000)

  const sample = <T>(arb: fc.Arbitrary<T>, seed: number) => fc.sample(arb, { numRuns: RUNS, seed })

  it(
    "non-root: 2,000 inputs agree, and the policy both denies and allows",
    () => {
      const d = compare("non-root", defaultEvaluator, sample(G.nonRoot, 1), defaultDataFile)
      expect(ruleShare(d, "non-root")).toBeGreaterThan(0.1)
      expect(ruleShare(d, "non-root")).toBeLessThan(0.9)
    },
    TIMEOUT
  )

  it(
    "resource-limits: 2,000 inputs agree, and the policy both denies and allows",
    () => {
      const d = compare("resource-limits", defaultEvaluator, sample(G.resourceLimits, 2), defaultDataFile)
      expect(ruleShare(d, "resource-limits")).toBeGreaterThan(0.1)
      expect(ruleShare(d, "resource-limits")).toBeLessThan(0.9)
    },
    TIMEOUT
  )

  it(
    "privileges: 2,000 inputs agree, and the policy both denies and allows",
    () => {
      const d = compare("privileges", defaultEvaluator, sample(G.privileges, 3), defaultDataFile)
      expect(ruleShare(d, "privileges")).toBeGreaterThan(0.1)
      expect(ruleShare(d, "privileges")).toBeLessThan(0.99)
    },
    TIMEOUT
  )

  it(
    "image-provenance: 2,000 inputs agree, and the policy both denies and allows",
    () => {
      const d = compare("image-provenance", defaultEvaluator, sample(G.imageProvenance, 4), defaultDataFile)
      expect(ruleShare(d, "image-provenance")).toBeGreaterThan(0.1)
      expect(ruleShare(d, "image-provenance")).toBeLessThan(0.95)
    },
    TIMEOUT
  )

  it(
    "scan-gate (with user data: threshold, ignoreUnfixed, expiring exceptions): 2,000 inputs agree",
    () => {
      const d = compare("scan-gate", scanEvaluator, sample(G.scanGate, 5), scanDataFile)
      expect(ruleShare(d, "scan-gate")).toBeGreaterThan(0.1)
      expect(ruleShare(d, "scan-gate")).toBeLessThan(0.9)
      expect(d.some((x) => x.warn.some((v) => v.rule === "scan-gate/exception"))).toBe(true)
    },
    TIMEOUT
  )

  it(
    "input-validation: 2,000 mutated inputs (fields deleted or of the wrong type) agree",
    () => {
      const d = compare("input-validation", defaultEvaluator, sample(G.mutatedInput, 6), defaultDataFile)
      expect(ruleShare(d, "input")).toBeGreaterThan(0.05)
    },
    TIMEOUT
  )

  it(
    "everything at once: 2,000 general inputs (Kubernetes and Docker, all edges) agree",
    () => {
      const d = compare("mixed", defaultEvaluator, sample(arbitraries.policyInput, 7), defaultDataFile)
      for (const policy of ["non-root", "resource-limits", "privileges", "image-provenance", "scan-gate"]) {
        expect(ruleShare(d, policy), policy).toBeGreaterThan(0.01)
      }
    },
    TIMEOUT
  )
})
