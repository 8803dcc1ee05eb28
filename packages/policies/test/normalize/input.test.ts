import type { ScanReport } from "@sluice/core"
import { describe, expect, it } from "vitest"
import { buildPolicyInput, formatRfc3339, normalizeNormalized } from "../../src/index.js"
import { getFailure, getOrThrow, loadFixture } from "../helpers.js"

const NOW = Date.parse("2026-11-21T00:00:00.789Z")

describe("buildPolicyInput", () => {
  it("carries the raw Kubernetes object, the raw scan report and now (RFC 3339, seconds)", () => {
    const object = loadFixture("kubernetes/deployment-log-shipper.yaml")
    const raw = loadFixture("trivy/clean-image.json")
    const scan: ScanReport = { image: "x", digests: [], findings: [], raw }
    const input = getOrThrow(buildPolicyInput({ workload: { source: "kubernetes", object }, scan }, NOW))
    expect(Object.keys(input)).toEqual(["workload", "kubernetes", "scan", "now"])
    expect(input.kubernetes?.object).toBe(object)
    expect(input.scan).toBe(raw)
    expect(input.now).toBe("2026-11-21T00:00:00Z")
  })

  it("omits scan when there is no report, and carries docker container + image", () => {
    const container = loadFixture("docker/container-agent.json")
    const image = loadFixture("docker/image-agent.json")
    const input = getOrThrow(
      buildPolicyInput({ workload: { source: "docker", container, image }, scan: undefined }, NOW)
    )
    expect(Object.keys(input)).toEqual(["workload", "docker", "now"])
    expect(input.docker).toEqual({ container, image })
    const noImage = getOrThrow(buildPolicyInput({ workload: { source: "docker", container }, scan: undefined }, NOW))
    expect(noImage.docker).toEqual({ container })
    expect("image" in (noImage.docker ?? {})).toBe(false)
  })

  it("writes a Trivy SchemaVersion 2 document when a scan report has findings but no raw report", () => {
    const scan: ScanReport = {
      image: "a:1",
      digests: [],
      findings: [{ id: "CVE-1", pkg: "openssl", installedVersion: "1", fixedVersion: "2", severity: "HIGH" }]
    }
    const input = getOrThrow(
      buildPolicyInput(
        {
          workload: {
            source: "normalized",
            workload: { platform: "simulated", kind: "Pod", name: "p", containers: [] }
          },
          scan
        },
        NOW
      )
    )
    expect(input.scan).toEqual({
      SchemaVersion: 2,
      ArtifactName: "a:1",
      ArtifactType: "container_image",
      Results: [
        {
          Target: "a:1",
          Class: "os-pkgs",
          Vulnerabilities: [
            { VulnerabilityID: "CVE-1", PkgName: "openssl", InstalledVersion: "1", FixedVersion: "2", Severity: "HIGH" }
          ]
        }
      ]
    })
  })

  it("fails for a workload that cannot be normalized", () => {
    const e = getFailure(
      buildPolicyInput({ workload: { source: "kubernetes", object: { kind: "Job" } }, scan: undefined }, NOW)
    )
    expect(e._tag).toBe("NormalizeError")
    expect(e.source).toBe("kubernetes")
  })

  it("formats now at second precision in UTC", () => {
    expect(formatRfc3339(0)).toBe("1970-01-01T00:00:00Z")
    expect(formatRfc3339(Date.parse("2026-02-03T04:05:06.999+02:00"))).toBe("2026-02-03T02:05:06Z")
  })
})

describe("normalizeNormalized", () => {
  it("completes a sparse simulated workload so policies can rely on the shape", () => {
    const w = getOrThrow(
      normalizeNormalized({
        platform: "simulated",
        kind: "Pod",
        name: "sim-1",
        containers: [{ name: "agent", image: "registry.sluice.dev/agent:1", securityContext: { runAsNonRoot: true } }]
      })
    )
    expect(w).toEqual({
      platform: "simulated",
      kind: "Pod",
      name: "sim-1",
      labels: {},
      annotations: {},
      pod: { securityContext: {}, hostNetwork: false, hostPID: false, hostIPC: false, volumes: [] },
      containers: [
        {
          name: "agent",
          type: "container",
          image: "registry.sluice.dev/agent:1",
          securityContext: { runAsNonRoot: true, capabilities: { add: [], drop: [] } },
          resources: { limits: {}, requests: {} },
          volumeMounts: []
        }
      ]
    })
  })

  it("rejects an unknown platform or kind", () => {
    const e = getFailure(normalizeNormalized({ platform: "nomad", kind: "Job", name: "x", containers: [] }))
    expect(e.message).toMatch(/\["platform"\]/)
    expect(e.message).toMatch(/\["kind"\]/)
  })
})
