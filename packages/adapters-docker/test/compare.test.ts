/**
 * The engine suites' oracle (test/support/compare.ts), on hand-made `docker inspect` documents: it
 * compares configuration only, so runtime state (exec ids of a health check in flight, State, pids,
 * restart counts, addresses, Docker-chosen host ports) never fails it, while any configuration
 * change still does. No engine needed.
 */
import { describe, expect, it } from "vitest"
import { compareRecreated, compareRestored, configurationOf } from "./support/compare.js"
import type { Json } from "./support/engine.js"

const ID1 = "25f0f82a78b0a62b8859b9f4a7392b83a6bda50f3d023e834f9fe2ce02aacc48"
const ID2 = "9c3e1d0b7a5f4e2d1c0b9a8f7e6d5c4b3a2918070605f4e3d2c1b0a998877665"
const IMG1 = "sha256:9971794650959c2c600e3ae543a615c588b6f59a367a9159a59d9d793dfa62a8"

const image = (version: string): Json => ({
  Id: IMG1,
  Config: {
    Env: ["PATH=/bin", `AGENT_VERSION=${version}`],
    Labels: { "org.opencontainers.image.version": version }
  }
})

/** A running agent container, shaped like Docker 20.10's inspect output. */
const container = (id: string, runtime: { pid: number; execIds: Array<string> | null; hostPort: string }): Json => ({
  Id: id,
  Created: "2026-11-25T21:29:29.482780159Z",
  Path: "/bin/sh",
  Args: ["/agent.sh", "--site", "a"],
  State: {
    Status: "running",
    Running: true,
    Pid: runtime.pid,
    StartedAt: "2026-11-25T21:29:30.037561565Z",
    FinishedAt: "0001-01-01T00:00:00Z",
    Health: {
      Status: "healthy",
      FailingStreak: 0,
      Log: [{ Start: "2026-11-25T21:29:31Z", End: "2026-11-25T21:29:31Z", ExitCode: 0, Output: "" }]
    }
  },
  Image: IMG1,
  ResolvConfPath: `/var/lib/docker/containers/${id}/resolv.conf`,
  HostnamePath: `/var/lib/docker/containers/${id}/hostname`,
  HostsPath: `/var/lib/docker/containers/${id}/hosts`,
  LogPath: `/var/lib/docker/containers/${id}/${id}-json.log`,
  Name: "/rl-agent-a0",
  RestartCount: 0,
  Driver: "vfs",
  Platform: "linux",
  MountLabel: "",
  ProcessLabel: "",
  AppArmorProfile: "",
  ExecIDs: runtime.execIds,
  HostConfig: {
    Memory: 67_108_864,
    RestartPolicy: { Name: "unless-stopped", MaximumRetryCount: 0 },
    PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
    CapDrop: ["ALL"],
    Mounts: [{ Type: "volume", Source: "rl-agent-a0-data", Target: "/data" }]
  },
  GraphDriver: { Data: null, Name: "vfs" },
  Mounts: [
    {
      Type: "volume",
      Name: "rl-agent-a0-data",
      Source: "/var/lib/docker/volumes/rl-agent-a0-data/_data",
      Destination: "/data",
      Driver: "local",
      Mode: "z",
      RW: true,
      Propagation: ""
    }
  ],
  Config: {
    Hostname: id.slice(0, 12),
    User: "10001:10001",
    Env: ["AGENT_SITE=a", "PATH=/bin", "AGENT_VERSION=v1"],
    Cmd: ["--site", "a"],
    Image: "sluice-test/agent:v1",
    Labels: { app: "agent", "org.opencontainers.image.version": "v1" }
  },
  NetworkSettings: {
    SandboxID: `sandbox-${id.slice(0, 6)}`,
    SandboxKey: `/var/run/docker/netns/${id.slice(0, 12)}`,
    SecondaryIPAddresses: [{ Addr: `172.18.0.${runtime.pid % 200}`, PrefixLen: 16 }],
    Ports: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: runtime.hostPort }] },
    Networks: {
      "net-a": {
        IPAMConfig: null,
        Links: null,
        Aliases: ["rl-agent-a0-alias", "agent", id.slice(0, 12)],
        NetworkID: "83b7c30194fd",
        EndpointID: `endpoint-${id.slice(0, 6)}`,
        IPAddress: `172.18.0.${runtime.pid % 200}`,
        MacAddress: "02:42:ac:12:00:02"
      }
    }
  }
})

const before = container(ID1, { pid: 29_409, execIds: ["a1f3e0c2"], hostPort: "32769" })

/** The same container later: a different health-check exec in flight, new pid, state and restart count. */
const laterState = (c: Json): Json => {
  const x = structuredClone(c)
  x.ExecIDs = ["77b0d9e4"]
  x.State.Pid = 31_002
  x.State.StartedAt = "2026-11-25T21:40:02.000000001Z"
  x.State.Health = { Status: "starting", FailingStreak: 1, Log: [] }
  x.RestartCount = 2
  x.NetworkSettings.Ports["8080/tcp"][0].HostPort = "32801"
  x.NetworkSettings.SecondaryIPAddresses = [{ Addr: "172.18.0.9", PrefixLen: 16 }]
  x.NetworkSettings.Networks["net-a"].IPAddress = "172.18.0.9"
  x.NetworkSettings.Networks["net-a"].EndpointID = "endpoint-other"
  return x
}

/** The container recreated on v2 by the adapter: new id, new image, the same configuration. */
const recreated = (c: Json): Json => {
  const x = container(ID2, { pid: 40_111, execIds: ["0c9e4b1d"], hostPort: "32790" })
  x.Image = "sha256:6c5731152990aa"
  x.Config.Image = "sluice-test/agent:v2"
  x.Config.Env = ["AGENT_SITE=a", "PATH=/bin", "AGENT_VERSION=v2"]
  x.Config.Labels = { app: "agent", "org.opencontainers.image.version": "v2" }
  x.Created = "2026-11-25T22:00:00Z"
  x.State = laterState(c).State
  return x
}

describe("the configuration comparison used by the engine suites", () => {
  it("configurationOf keeps what docker create sets and drops runtime state", () => {
    const conf = configurationOf(before)
    expect(Object.keys(conf).sort()).toEqual(
      [
        "AppArmorProfile",
        "Args",
        "Config",
        "Driver",
        "HostConfig",
        "MountLabel",
        "Mounts",
        "Name",
        "NetworkSettings",
        "Path",
        "Platform",
        "ProcessLabel"
      ].sort()
    )
    expect(Object.keys(conf.NetworkSettings)).toEqual(["Networks"])
    expect(Object.keys(conf.NetworkSettings.Networks["net-a"]).sort()).toEqual(
      ["Aliases", "DriverOpts", "IPAMConfig", "Links", "NetworkID"].sort()
    )
  })

  it("a recreated container whose ExecIDs, State, pid, restart count, addresses and host port differ has no unexpected difference", () => {
    const cmp = compareRecreated(before, image("v1"), recreated(before), image("v2"))
    expect(cmp.unexpected).toEqual([])
    expect(cmp.ownEnv.after).toEqual(cmp.ownEnv.before)
    expect(cmp.ownLabels.after).toEqual(cmp.ownLabels.before)
    expect(cmp.missingImageEnv).toEqual([])
  })

  it("a restored container that only changed runtime state (a health-check exec in flight, State, restarts) is identical", () => {
    expect(compareRestored(before, laterState(before))).toEqual([])
  })

  it.each([
    ["HostConfig.Memory", (x: Json) => (x.HostConfig.Memory = 134_217_728)],
    ["HostConfig.CapDrop[0]", (x: Json) => (x.HostConfig.CapDrop = ["NET_RAW"])],
    [
      "HostConfig.PortBindings.8080/tcp[0].HostPort",
      (x: Json) => (x.HostConfig.PortBindings["8080/tcp"][0].HostPort = "8080")
    ],
    ["Config.User", (x: Json) => (x.Config.User = "0:0")],
    ["Config.Cmd[1]", (x: Json) => (x.Config.Cmd = ["--site", "b"])],
    ["Name", (x: Json) => (x.Name = "/other")],
    ["Mounts[0].Name", (x: Json) => (x.Mounts[0].Name = "fresh-volume")],
    // Aliases compare sorted, without Docker's automatic short-id alias: ["agent", "rl-agent-a0-alias"].
    [
      "NetworkSettings.Networks.net-a.Aliases[1]",
      (x: Json) => (x.NetworkSettings.Networks["net-a"].Aliases[0] = "renamed")
    ],
    ["NetworkSettings.Networks.net-b", (x: Json) => (x.NetworkSettings.Networks["net-b"] = { NetworkID: "b" })]
  ])("a changed configuration field (%s) is reported, even beside runtime changes", (path, change) => {
    const after = recreated(before)
    change(after)
    expect(compareRecreated(before, image("v1"), after, image("v2")).unexpected.map((d) => d.path)).toEqual([path])
    const restored = laterState(before)
    change(restored)
    expect(compareRestored(before, restored).map((d) => d.path)).toEqual([path])
  })

  it("a container's own env or labels lost on recreate show up in ownEnv/ownLabels", () => {
    const after = recreated(before)
    after.Config.Env = ["PATH=/bin", "AGENT_VERSION=v2"]
    after.Config.Labels = { "org.opencontainers.image.version": "v2" }
    const cmp = compareRecreated(before, image("v1"), after, image("v2"))
    expect(cmp.ownEnv).toEqual({ before: ["AGENT_SITE=a"], after: [] })
    expect(cmp.ownLabels).toEqual({ before: { app: "agent" }, after: {} })
  })

  it("a rollback that brought back another container (new id, creation time or image) is reported", () => {
    const other = laterState(before)
    other.Id = ID2
    other.Created = "2026-11-25T22:00:00Z"
    other.Image = "sha256:6c5731152990aa"
    // Docker's automatic short-id alias and hostname follow the id: normalized away.
    other.Config.Hostname = ID2.slice(0, 12)
    other.NetworkSettings.Networks["net-a"].Aliases = ["rl-agent-a0-alias", "agent", ID2.slice(0, 12)]
    expect(compareRestored(before, other).map((d) => d.path)).toEqual(["Created", "Id", "Image"])
  })
})
