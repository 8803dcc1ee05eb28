import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { WorkloadSource } from "@sluice/core"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { beforeAll, describe, expect, it } from "vitest"
import { buildPolicyInput, type EngineDecision, loadBundle, makeEvaluator, mergeData } from "../../src/index.js"
import { podArbitrary } from "./podArbitrary.js"

// The Pod Security profiles through Sluice's Wasm engine (a bundle built from the current sources)
// and through OPA's Go evaluator (`opa eval`) on the pods of the apiserver parity test, with the
// level from the spec's profiles and from random namespace labels (valid and invalid values, warn
// and audit too): the decisions must be identical. Without opa: fails under CI=true, skips loudly
// otherwise.

const pkg = fileURLToPath(new URL("../../", import.meta.url))
const opa = join(pkg, "..", "..", ".tools", "bin", "opa")
const haveOpa = existsSync(opa)
const RUNS = 700
const TIMEOUT = 300_000
const PROVISION = "opa is missing at .tools/bin/opa; provision it with: bash scripts/opa/build-opa.sh"

const WRAPPER = `package sluicepsa

decisions := {i: _one(c) | some i, c in input.cases}

_one(c) := d if {
	d := data.sluice.decision with input as c
} else := "undefined"
`

const level = fc.constantFrom("privileged", "baseline", "restricted", "strict", "")
const labels = fc
  .record(
    {
      "pod-security.kubernetes.io/enforce": level,
      "pod-security.kubernetes.io/enforce-version": fc.constantFrom("latest", "v1.30"),
      "pod-security.kubernetes.io/warn": level,
      "pod-security.kubernetes.io/audit": level
    },
    { requiredKeys: [] }
  )
  .map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) as Record<string, string>)

const inputs = fc.tuple(podArbitrary, fc.option(labels, { nil: undefined })).map(([c, nsLabels]) => {
  const pod = { ...c.pod, spec: { ...(c.pod.spec as object), ephemeralContainers: c.ephemeralContainers } }
  const source: WorkloadSource = {
    source: "kubernetes",
    object: pod,
    ...(nsLabels === undefined ? {} : { namespace: { name: "agents", labels: nsLabels } })
  }
  const input = buildPolicyInput({ workload: source, scan: undefined }, Date.parse("2026-11-21T00:00:00Z"))
  if (Result.isFailure(input)) throw new Error(input.failure.message)
  return input.success
})

const canonical = (d: unknown): unknown => {
  if (d === null || typeof d !== "object" || !("deny" in d)) return d
  const dec = d as EngineDecision
  const strip = (vs: EngineDecision["deny"]) =>
    vs.map((v) => JSON.stringify({ rule: v.rule, message: v.message, container: v.container ?? null })).sort()
  return { allow: dec.allow, deny: strip(dec.deny), warn: strip(dec.warn) }
}

describe.skipIf(!haveOpa && process.env.CI !== "true")("pod-security: Wasm engine vs opa eval", () => {
  let dir: string
  let wasmDir: string

  beforeAll(() => {
    if (!haveOpa) throw new Error(PROVISION)
    dir = mkdtempSync(join(tmpdir(), "sluice-psa-differential-"))
    wasmDir = join(dir, "bundle")
    const built = spawnSync("bash", [join(pkg, "..", "..", "scripts", "opa", "build-bundle.sh"), "--out", wasmDir], {
      encoding: "utf8"
    })
    if (built.status !== 0) throw new Error(`build-bundle.sh failed: ${built.stderr}`)
    writeFileSync(join(dir, "wrapper.rego"), WRAPPER)
  }, 120_000)

  const profileSets = [[], ["pod-security/baseline"], ["pod-security/restricted"]] as const

  for (const [k, profiles] of profileSets.entries()) {
    it(
      `profiles [${profiles.join(", ")}] with random namespace labels: ${RUNS} pods agree`,
      async () => {
        const data = { sluice: { params: { podSecurity: { profiles } } } }
        const evaluator = makeEvaluator([await Effect.runPromise(loadBundle({ path: wasmDir, data }))])
        const dataFile = join(dir, `data-${k}.json`)
        const { readFileSync } = await import("node:fs")
        writeFileSync(
          dataFile,
          JSON.stringify(mergeData(JSON.parse(readFileSync(join(pkg, "data", "data.json"), "utf8")), data))
        )
        const cases = fc.sample(inputs, { numRuns: RUNS, seed: 40 + k })
        const wasm = cases.map((c) => canonical(evaluator.evaluateInput(c)))
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
            join(dir, "wrapper.rego"),
            "--stdin-input",
            "data.sluicepsa.decisions"
          ],
          { input: JSON.stringify({ cases }), maxBuffer: 1 << 30, encoding: "utf8" }
        )
        if (r.status !== 0) throw new Error(`opa eval failed (${r.status}): ${r.stderr}`)
        const value =
          (JSON.parse(r.stdout) as { result: Array<{ expressions: Array<{ value: Record<string, unknown> }> }> })
            .result[0]?.expressions[0]?.value ?? {}
        const go = cases.map((_, i) => canonical(value[String(i)]))
        const differ = cases.flatMap((c, i) =>
          JSON.stringify(wasm[i]) === JSON.stringify(go[i])
            ? []
            : [`#${i} ${JSON.stringify(c)}\n  wasm: ${JSON.stringify(wasm[i])}\n  opa:  ${JSON.stringify(go[i])}`]
        )
        expect(differ.length, differ.slice(0, 2).join("\n")).toBe(0)
        // The corpus exercises the profiles: some pods denied and some warned by a Pod Security check.
        const hit = (key: "deny" | "warn") =>
          wasm.filter((d) =>
            (d as { [K in typeof key]: string[] })[key].some((v) => v.includes('"rule":"pod-security/'))
          ).length
        expect(hit("deny")).toBeGreaterThan(RUNS / 10)
        expect(hit("warn")).toBeGreaterThan(0)
      },
      TIMEOUT
    )
  }
})
