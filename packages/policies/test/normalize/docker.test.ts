import { describe, expect, it } from "vitest"
import { dockerCpuLimit, formatNanoCores, normalizeDocker } from "../../src/index.js"
import { getFailure, getOrThrow, loadFixture } from "../helpers.js"

describe("normalizeDocker", () => {
  it("maps a hardened agent container plus its image (user from the image, limits, caps, binds)", () => {
    const w = getOrThrow(
      normalizeDocker(loadFixture("docker/container-agent.json"), loadFixture("docker/image-agent.json"))
    )
    expect(w).toEqual({
      platform: "docker",
      kind: "Container",
      name: "fleet-agent",
      labels: { "org.opencontainers.image.version": "4.2.0", "io.sluice.fleet": "edge" },
      annotations: { "io.sluice.rollout": "r-42" },
      pod: {
        securityContext: {},
        hostNetwork: false,
        hostPID: false,
        hostIPC: false,
        volumes: [{ name: "bind-0", hostPath: { path: "/var/log" }, readOnly: true }]
      },
      containers: [
        {
          name: "fleet-agent",
          type: "container",
          image: "registry.sluice.dev/agents/fleet-agent:4.2.0",
          user: "65532:65532",
          securityContext: {
            privileged: false,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] }
          },
          resources: { limits: { cpu: "0.5", memory: "536870912" }, requests: {} },
          volumeMounts: [{ name: "bind-0", mountPath: "/var/log", readOnly: true }]
        }
      ]
    })
  })

  it("leaves user absent when neither the container nor the image sets one", () => {
    const w = getOrThrow(normalizeDocker(loadFixture("docker/container-agent.json")))
    expect(w.containers[0] && "user" in w.containers[0]).toBe(false)
    const withEmptyImageUser = getOrThrow(
      normalizeDocker(loadFixture("docker/container-agent.json"), { Config: { User: "" } })
    )
    expect(withEmptyImageUser.containers[0] && "user" in withEmptyImageUser.containers[0]).toBe(false)
  })

  it("maps a privileged host-namespace container (CpuQuota/CpuPeriod, host-path binds only)", () => {
    const w = getOrThrow(
      normalizeDocker(loadFixture("docker/container-privileged-host.json"), { Config: { User: "1000" } })
    )
    expect(w.pod).toEqual({
      securityContext: {},
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      volumes: [
        { name: "bind-0", hostPath: { path: "/" }, readOnly: true },
        { name: "bind-1", hostPath: { path: "/var/run/docker.sock" }, readOnly: false }
      ]
    })
    expect(w.labels).toEqual({})
    const c = w.containers[0]
    // The container's own User wins over the image's.
    expect(c?.user).toBe("root")
    expect(c?.image).toBe("localhost:5000/sensor:latest")
    expect(c?.securityContext).toEqual({
      privileged: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ["SYS_ADMIN", "NET_ADMIN"], drop: [] }
    })
    // Memory 0 = unset; 150000/100000 = 1.5 cores.
    expect(c?.resources).toEqual({ limits: { cpu: "1.5" }, requests: {} })
  })

  it("uses HostConfig.Binds and HostConfig.Mounts when the runtime Mounts list is absent", () => {
    const w = getOrThrow(normalizeDocker(loadFixture("docker/container-created-minimal.json")))
    expect(w.pod.volumes).toEqual([
      { name: "bind-0", hostPath: { path: "/srv/data" }, readOnly: false },
      { name: "bind-1", hostPath: { path: "/etc/ssl/certs" }, readOnly: true }
    ])
    expect(w.containers[0]?.volumeMounts).toEqual([
      { name: "bind-0", mountPath: "/data", readOnly: false },
      { name: "bind-1", mountPath: "/etc/ssl/certs", readOnly: true }
    ])
    // CpuQuota with CpuPeriod 0 uses the default CFS period (100ms): 50000/100000.
    expect(w.containers[0]?.resources.limits).toEqual({ cpu: "0.5" })
    expect(w.containers[0]?.securityContext).toEqual({ capabilities: { add: [], drop: [] } })
    expect(w.pod.hostNetwork).toBe(false)
  })

  it("sets allowPrivilegeEscalation=false only for no-new-privileges (true) security options", () => {
    const sc = (opts: Array<string> | null) =>
      getOrThrow(normalizeDocker({ Name: "/x", HostConfig: { SecurityOpt: opts }, Config: { Image: "i" } }))
        .containers[0]?.securityContext
    expect(sc(["no-new-privileges"])?.allowPrivilegeEscalation).toBe(false)
    expect(sc(["no-new-privileges:true"])?.allowPrivilegeEscalation).toBe(false)
    expect(sc(["no-new-privileges=true"])?.allowPrivilegeEscalation).toBe(false)
    expect(sc(["no-new-privileges:false"])).not.toHaveProperty("allowPrivilegeEscalation")
    expect(sc(["seccomp=unconfined"])).not.toHaveProperty("allowPrivilegeEscalation")
    expect(sc(null)).not.toHaveProperty("allowPrivilegeEscalation")
  })

  it("formats CPU limits as exact decimal cores", () => {
    expect(formatNanoCores(500_000_000n)).toBe("0.5")
    expect(formatNanoCores(2_000_000_000n)).toBe("2")
    expect(formatNanoCores(1n)).toBe("0.000000001")
    expect(formatNanoCores(1_250_000_000n)).toBe("1.25")
    expect(dockerCpuLimit({ NanoCpus: 1_500_000_000 })).toBe("1.5")
    expect(dockerCpuLimit({ NanoCpus: 0, CpuQuota: 33_333, CpuPeriod: 100_000 })).toBe("0.33333")
    expect(dockerCpuLimit({ NanoCpus: 0, CpuQuota: 100_000, CpuPeriod: 300_000 })).toBe("0.333333333")
    // NanoCpus wins over CpuQuota.
    expect(dockerCpuLimit({ NanoCpus: 250_000_000, CpuQuota: 200_000, CpuPeriod: 100_000 })).toBe("0.25")
    expect(dockerCpuLimit({ NanoCpus: 0, CpuQuota: -1 })).toBeUndefined()
    expect(dockerCpuLimit({})).toBeUndefined()
  })

  it("names the workload after the container Name (without /), else its Id, else rejects it", () => {
    expect(getOrThrow(normalizeDocker({ Id: "abc123", Config: { Image: "i" } })).name).toBe("abc123")
    expect(getFailure(normalizeDocker({ Config: { Image: "i" } })).message).toMatch(/Name or Id is required/)
  })

  it("rejects an inspect document with wrongly typed fields", () => {
    const e = getFailure(normalizeDocker({ Name: "/x", HostConfig: { Privileged: "yes", Memory: "1g" } }))
    expect(e.message).toMatch(/invalid container inspect/)
    expect(e.message).toMatch(/\["HostConfig"\]\["Privileged"\]/)
    expect(e.message).toMatch(/\["HostConfig"\]\["Memory"\]/)
    expect(getFailure(normalizeDocker({ Name: "/x" }, { Config: { User: 0 } })).message).toMatch(
      /invalid image inspect/
    )
  })
})
