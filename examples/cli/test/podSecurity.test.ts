import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { FAST, fixture, fleet, imageOf, sluice, tmpStore, V1 } from "./helpers.js"

/** rolling.yaml with the policy gate on and `profiles` selected. */
const specWith = (dir: string, profiles: ReadonlyArray<string>) => {
  const text = fs
    .readFileSync(fixture("rolling.yaml"), "utf8")
    .replace("policy: { enabled: false }", `policy: { enabled: true, profiles: [${profiles.join(", ")}] }`)
  expect(text).toContain("profiles:")
  const file = path.join(dir, "rollout.yaml")
  fs.writeFileSync(file, text)
  return file
}

describe("sluice apply: gates.policy.profiles", () => {
  it("a Pod Security profile on workloads without a Kubernetes pod spec blocks (exit 2, fail closed), nothing touched", async () => {
    const store = tmpStore()
    const spec = specWith(store, ["pod-security/restricted"])
    const r = await sluice(["apply", "-f", spec, "--id", "psa", "--store", store, "--fleet-size", "4", ...FAST])
    expect(r.code, r.stdout + r.stderr).toBe(2)
    expect(r.stdout).toContain("pod-security/no-pod-spec")
    expect(r.stdout).toContain("the restricted Pod Security profile is selected")
    const f = fleet(store)
    for (let i = 0; i < 4; i++) expect(imageOf(f, `node-${i}`)).toBe(V1)
  })

  it("an unknown profile is a spec error (exit 64) naming the field", async () => {
    const store = tmpStore()
    const spec = specWith(store, ["pod-security/privileged"])
    const r = await sluice(["apply", "-f", spec, "--id", "bad", "--store", store, "--fleet-size", "4", ...FAST])
    expect(r.code).toBe(64)
    expect(r.stderr + r.stdout).toContain("spec.gates.policy.profiles[0]")
  })
})
