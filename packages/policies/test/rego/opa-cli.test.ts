import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../../../..")
const opa = path.join(root, ".tools/bin/opa")
const available = fs.existsSync(opa)
const inCI = process.env.CI === "true"

if (!available) {
  const message = `opa is not built (${opa}). Provision it with: bash scripts/opa/build-opa.sh`
  if (inCI) throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING the opa CLI suite: ${message}\n`)
}

const run = (script: string) => {
  const r = spawnSync("bash", [path.join(root, "scripts/opa", script)], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, PATH: `${path.join(root, ".tools/bin")}:${process.env.PATH}` }
  })
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` }
}

describe.skipIf(!available)("Rego policies through the real opa CLI", () => {
  it("pass opa fmt, opa check --strict and every opa test with at least 90% coverage", () => {
    const r = run("test-policies.sh")
    expect(r.status, r.output).toBe(0)
    expect(r.output).toMatch(/PASS/)
  }, 300_000)

  it("match the committed compiled bundle (a stale bundle fails)", () => {
    const r = run("check-bundle-fresh.sh")
    expect(r.status, r.output).toBe(0)
  }, 300_000)
})
