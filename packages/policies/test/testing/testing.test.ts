import { fc, it as fcIt } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { buildPolicyInput, normalizeDocker, normalizeKubernetes } from "../../src/index.js"
import { arbitraries, builtinBundleDir, loadPolicy } from "../../src/testing/index.js"
import { bundle, loadFixture } from "../helpers.js"

describe("@sluice/policies/testing assertions", () => {
  it("expectAllowed / expectDenied / expectWarned pass and fail as they say", async () => {
    const policy = await loadPolicy(bundle("basic.tar.gz"))
    policy.expectAllowed(loadFixture("kubernetes/deployment-log-shipper.yaml"))
    policy.expectDenied(loadFixture("kubernetes/pod-from-api.json"), "basic/privileged")
    policy.expectDenied(loadFixture("docker/container-privileged-host.json"), ["basic/privileged", "no memory limit"])
    policy.expectWarned(loadFixture("docker/container-privileged-host.json"), "basic/latest")
    expect(() => policy.expectAllowed(loadFixture("kubernetes/pod-from-api.json"))).toThrow(
      /expected the policy to allow[\s\S]*basic\/privileged/
    )
    expect(() => policy.expectDenied(loadFixture("kubernetes/deployment-log-shipper.yaml"))).toThrow(
      /expected the policy to deny/
    )
    expect(() => policy.expectDenied(loadFixture("kubernetes/pod-from-api.json"), "basic/registry")).toThrow(
      /expected a deny matching "basic\/registry"/
    )
    expect(() => policy.expectWarned(loadFixture("kubernetes/deployment-log-shipper.yaml"), "latest")).toThrow(
      /warning/
    )
  })

  it("accepts workload sources and complete inputs, with a deterministic default now", async () => {
    const policy = await loadPolicy(bundle("second.tar.gz"))
    const d = policy.expectDenied(
      {
        source: "normalized",
        workload: { platform: "docker", kind: "Container", name: "x", pod: { hostNetwork: true }, containers: [] }
      },
      "second/host-network"
    )
    expect(d.warn[0]?.message).toBe("evaluated at 2026-01-01T00:00:00Z")
    const full = policy.evaluate({ workload: { pod: {} }, now: "2030-01-01T00:00:00Z" })
    expect(full).toMatchObject({ allow: true, warn: [{ message: "evaluated at 2030-01-01T00:00:00Z" }] })
    expect(() => policy.evaluate({ nothing: true })).toThrow(TypeError)
  })

  it("loads the built-in bundle by default", async () => {
    const policy = await loadPolicy()
    expect(policy.evaluator.bundles).toMatchObject([{ name: "sluice", status: "ready" }])
    expect(policy.evaluator.bundles[0]?.location).toBe(builtinBundleDir)
  })
})

describe("arbitraries", () => {
  fcIt.prop([arbitraries.kubernetesWorkload()], { numRuns: 300 })(
    "generate Kubernetes workloads the normalizer accepts",
    (object) => {
      const r = normalizeKubernetes(object)
      expect(Result.isSuccess(r) ? "ok" : r.failure.message).toBe("ok")
    }
  )

  fcIt.prop([arbitraries.dockerWorkload], { numRuns: 300 })(
    "generate Docker inspect pairs the normalizer accepts",
    ({ container, image }) => {
      const r = normalizeDocker(container, image)
      expect(Result.isSuccess(r) ? "ok" : r.failure.message).toBe("ok")
    }
  )

  fcIt.prop([arbitraries.trivyReport()], { numRuns: 200 })(
    "generate Trivy reports the parser accepts",
    async (report) => {
      const { parseTrivyReport } = await import("../../src/index.js")
      expect(Result.isSuccess(parseTrivyReport(report))).toBe(true)
    }
  )

  it("hit the edges they are meant to hit", () => {
    const inputs = fc.sample(arbitraries.policyInput, { numRuns: 2000, seed: 42 })
    const containers = inputs.flatMap((i) => i.workload.containers)
    const seen = {
      root: containers.some((c) => c.securityContext.runAsUser === 0 || c.user === "root" || c.user === "0"),
      nonRoot: containers.some((c) => c.securityContext.runAsNonRoot === true),
      missingMemory: containers.some((c) => c.resources.limits.memory === undefined),
      binaryUnits: containers.some((c) => /Gi$|Mi$|Ki$/.test(c.resources.limits.memory ?? "")),
      decimalUnits: containers.some((c) => /[kMGTPE]$/.test(c.resources.limits.memory ?? "")),
      milliCpu: containers.some((c) => /m$/.test(c.resources.limits.cpu ?? "")),
      exponent: containers.some((c) => /e/.test(c.resources.limits.memory ?? "")),
      hostPath: inputs.some((i) => i.workload.pod.volumes.some((v) => v.hostPath?.path === "/")),
      dockerSocket: inputs.some((i) => i.workload.pod.volumes.some((v) => v.hostPath?.path === "/var/run/docker.sock")),
      capabilities: containers.some((c) => c.securityContext.capabilities.add.includes("SYS_ADMIN")),
      digest: containers.some((c) => /@sha256:[0-9a-f]{64}$/.test(c.image)),
      registryPort: containers.some((c) => c.image.startsWith("localhost:5000/")),
      latest: containers.some((c) => c.image.endsWith(":latest")),
      noScan: inputs.some((i) => i.scan === undefined),
      critical: inputs.some((i) => JSON.stringify(i.scan ?? {}).includes('"CRITICAL"')),
      docker: inputs.some((i) => i.workload.platform === "docker"),
      kinds: new Set(inputs.map((i) => i.workload.kind)).size
    }
    expect(seen).toEqual({
      root: true,
      nonRoot: true,
      missingMemory: true,
      binaryUnits: true,
      decimalUnits: true,
      milliCpu: true,
      exponent: true,
      hostPath: true,
      dockerSocket: true,
      capabilities: true,
      digest: true,
      registryPort: true,
      latest: true,
      noScan: true,
      critical: true,
      docker: true,
      kinds: 5
    })
  })

  it("build complete inputs that match the normalized shape", () => {
    for (const input of fc.sample(arbitraries.policyInput, { numRuns: 200, seed: 7 })) {
      expect(Object.keys(input)[0]).toBe("workload")
      expect(input.now).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      const source =
        input.kubernetes !== undefined ? { source: "kubernetes" as const, object: input.kubernetes.object } : undefined
      if (source) expect(Result.isSuccess(buildPolicyInput({ workload: source, scan: undefined }, 0))).toBe(true)
    }
  })
})
