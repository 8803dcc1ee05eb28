import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { countType, events, FAST, fixture, fleet, imageOf, sluice, start, tmpStore } from "./helpers.js"

const NGINX = "docker.io/library/nginx:1.27"
const ids = Array.from({ length: 10 }, (_, i) => `node-${String(i).padStart(2, "0")}`)
const policyOn = ["--set", "spec.gates.policy.enabled=true", "--set", `spec.artifact.image=${NGINX}`]
const write = (dir: string, name: string, text: string) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}
const ALLOW_DOCKER_IO = "sluice:\n  params:\n    provenance:\n      allowedRegistries: [docker.io/]\n"

describe("policy data: spec.gates.policy.data and --policy-data", () => {
  it("lets a real registry's image through the built-in provenance policy; a misspelt parameter is a spec error", async () => {
    const store = tmpStore()
    const common = ["-f", fixture("rolling.yaml"), "--store", store, "--fleet-size", "10", ...FAST, ...policyOn]
    const blocked = await sluice(["apply", ...common, "--json"])
    expect(blocked.code).toBe(2)
    const gate = events(blocked.stdout).find((e) => e.type === "gateDecided" && e.gate === "policy")
    expect(JSON.stringify(gate)).toContain("image-provenance/registry")

    const typo = await sluice([
      "apply",
      ...common,
      "--policy-data",
      write(store, "typo.yaml", ALLOW_DOCKER_IO.replace("allowedRegistries", "allowedRegistry"))
    ])
    expect(typo.code).toBe(64)
    expect(typo.stderr).toContain(
      "spec.gates.policy.data.sluice.params.provenance.allowedRegistry: unknown field (did you mean allowedRegistries?)"
    )
    const badValue = await sluice([
      "plan",
      "-f",
      fixture("rolling.yaml"),
      "--store",
      store,
      "--policy-data",
      write(store, "severity.json", '{"sluice": {"params": {"scan": {"severityThreshold": "SEVERE"}}}}')
    ])
    expect(badValue.code).toBe(64)
    expect(badValue.stderr).toContain("spec.gates.policy.data.sluice.params.scan.severityThreshold")

    const allowed = await sluice(["apply", ...common, "--policy-data", write(store, "data.yaml", ALLOW_DOCKER_IO)])
    expect(allowed.code, allowed.stderr).toBe(0)
    for (const id of ids) expect(imageOf(fleet(store), id), id).toBe(NGINX)
  })

  it("--policy-data merges over the spec's data (lists replaced), and the data is kept for a resume", async () => {
    const store = tmpStore()
    // The spec allows quay.io/ only; the file replaces the list with docker.io/.
    const values = write(
      store,
      "values.yaml",
      "spec:\n  gates:\n    policy:\n      data:\n        sluice:\n          params:\n            provenance:\n              allowedRegistries: [quay.io/]\n"
    )
    const args = [
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--id",
      "pd",
      "--json",
      "--values",
      values,
      "--policy-data",
      write(store, "data.yaml", ALLOW_DOCKER_IO),
      "--store",
      store,
      "--fleet-size",
      "10",
      "--set",
      "spec.strategy.rolling.maxUnavailable=1",
      "--apply-latency",
      "40ms..60ms",
      "--ready-latency",
      "40ms..60ms",
      ...policyOn
    ]
    const run = start(args)
    await run.waitFor((lines) => countType(lines, "targetUpdating") >= 2)
    run.child.kill("SIGKILL")
    await run.done
    // The resumed run gates with the stored spec, its policy data included.
    const resumed = await sluice(["resume", "pd", "--json", "--store", store])
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(events(resumed.stdout).at(-1)).toMatchObject({ type: "result", outcome: "completed" })
    for (const id of ids) expect(imageOf(fleet(store), id), id).toBe(NGINX)
  })
})
