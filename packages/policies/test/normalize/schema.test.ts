import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { ScanReport } from "@sluice/core"
import { Ajv2020, type ErrorObject } from "ajv/dist/2020.js"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { buildPolicyInput, type PolicyInput } from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"
import { getOrThrow, loadFixture } from "../helpers.js"

// Every input the normalizers produce must validate against the input JSON Schema the policies
// are written against (packages/policies/schema/input.schema.json).

const schemaFile = fileURLToPath(new URL("../../schema/input.schema.json", import.meta.url))
const ajv = new Ajv2020({ allErrors: true, strict: true })
ajv.addFormat("date-time", (s: string) => !Number.isNaN(Date.parse(s)))
const validate = ajv.compile(JSON.parse(readFileSync(schemaFile, "utf8")))

const errorsOf = (input: unknown): Array<ErrorObject> => (validate(input) ? [] : [...(validate.errors ?? [])])

const expectValid = (input: PolicyInput) => {
  expect(errorsOf(input).map((e) => `${e.instancePath} ${e.message}`)).toEqual([])
}

const NOW = Date.parse("2026-11-21T00:00:00Z")
const scan: ScanReport = {
  image: "x",
  digests: [],
  findings: [],
  raw: loadFixture("trivy/registry.sluice.dev_agents_fleet-agent_4.2.0.json")
}

describe("normalizer output vs schema/input.schema.json", () => {
  it.each([
    "kubernetes/deployment-log-shipper.yaml",
    "kubernetes/daemonset-node-exporter.yaml",
    "kubernetes/statefulset-sensor.yaml",
    "kubernetes/pod-from-api.json"
  ])("validates for %s", (file) => {
    expectValid(
      getOrThrow(buildPolicyInput({ workload: { source: "kubernetes", object: loadFixture(file) }, scan }, NOW))
    )
  })

  it.each([
    ["docker/container-agent.json", "docker/image-agent.json"],
    ["docker/container-privileged-host.json", undefined],
    ["docker/container-created-minimal.json", undefined]
  ])("validates for %s (image %s)", (container, image) => {
    const workload =
      image === undefined
        ? { source: "docker" as const, container: loadFixture(container) }
        : { source: "docker" as const, container: loadFixture(container), image: loadFixture(image) }
    expectValid(getOrThrow(buildPolicyInput({ workload, scan: undefined }, NOW)))
  })

  it("validates for a completed simulated workload", () => {
    expectValid(
      getOrThrow(
        buildPolicyInput(
          {
            workload: {
              source: "normalized",
              workload: { platform: "simulated", kind: "Pod", name: "s", containers: [{ name: "a", image: "i:1" }] }
            },
            scan: undefined
          },
          NOW
        )
      )
    )
  })

  it("validates for 1,000 generated Kubernetes and Docker workloads with scan reports", () => {
    // The arbitraries deliberately feed some invalid quantity strings through (the normalizer
    // passes them on for the policies to deny); those are the only schema errors tolerated.
    const invalidQuantities = new Set(fc.sample(arbitraries.invalidQuantity, { numRuns: 200, seed: 1 }))
    let checked = 0
    for (const input of fc.sample(arbitraries.policyInput, { numRuns: 1000, seed: 11 })) {
      const errors = errorsOf(input).filter((e) => {
        const quantity = /\/resources\/(limits|requests)\/(cpu|memory)$/.test(e.instancePath)
        const value = e.instancePath
          .split("/")
          .slice(1)
          .reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], input)
        return !(quantity && e.keyword === "pattern" && invalidQuantities.has(String(value)))
      })
      expect(errors.map((e) => `${e.instancePath} ${e.message} (${JSON.stringify(input.workload)})`)).toEqual([])
      checked++
    }
    expect(checked).toBe(1000)
  })

  it("rejects what it should (the schema is not vacuous)", () => {
    const input = getOrThrow(
      buildPolicyInput(
        {
          workload: { source: "kubernetes", object: loadFixture("kubernetes/statefulset-sensor.yaml") },
          scan: undefined
        },
        NOW
      )
    )
    expect(errorsOf({ ...input, extra: 1 }).length).toBeGreaterThan(0)
    expect(errorsOf({ ...input, workload: { ...input.workload, platform: "nomad" } }).length).toBeGreaterThan(0)
    expect(errorsOf({ ...input, now: "yesterday" }).length).toBeGreaterThan(0)
  })
})
