/** The adapter's pure parts (no engine needed): config and selector schemas, recreate logic, tar, errors. */
import { Effect, Exit, Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { isTransient, SecretScrubber } from "../src/errors.js"
import {
  buildCreateRequest,
  DockerAdapter,
  DockerAdapterConfig,
  DockerSelector,
  extractCreateSpec,
  makeDockerAdapter,
  parseImageRef,
  surgeConflict
} from "../src/index.js"
import { decodeDockerAdapterConfig } from "../src/config.js"
import { readTar, writeTar } from "@sluice/core"

const decodeSelector = Schema.decodeUnknownResult(DockerSelector, { errors: "all" })
const decodeConfig = Schema.decodeUnknownResult(DockerAdapterConfig, { errors: "all" })

describe("image references", () => {
  it.each([
    ["agent", { registry: "docker.io", repository: "library/agent", fromImage: "agent" }],
    ["agent:1.2", { registry: "docker.io", repository: "library/agent", tag: "1.2" }],
    ["localhost:5000/sluice/agent:v2", { registry: "localhost:5000", repository: "sluice/agent", tag: "v2" }],
    [
      `registry.example.com/team/agent@sha256:${"a".repeat(64)}`,
      { registry: "registry.example.com", repository: "team/agent", digest: `sha256:${"a".repeat(64)}` }
    ],
    ["sluice-test/agent:v1", { registry: "docker.io", repository: "sluice-test/agent", tag: "v1" }]
  ])("parses %s", (raw, expected) => {
    expect(parseImageRef(raw)).toMatchObject(expected)
  })

  it("rejects a malformed reference", () => {
    expect(parseImageRef("Bad Ref")).toBeUndefined()
  })
})

describe("selector and configuration schemas", () => {
  it("a selector needs names or labels", () => {
    const r = decodeSelector({ hosts: ["a"] })
    expect(r._tag).toBe("Failure")
    expect(String(r._tag === "Failure" ? r.failure : "")).toMatch(/needs `names` or `labels`/)
  })

  it("selector problems carry their path", () => {
    const r = decodeSelector({ names: ["agent-*"], health: { probe: { action: { type: "http", port: 70000 } } } })
    expect(r._tag).toBe("Failure")
    expect(String(r._tag === "Failure" ? r.failure : "")).toMatch(
      /between 1 and 65535\s+at \["health"\]\["probe"\]\["action"\]\["port"\]/
    )
  })

  it("accepts a full selector", () => {
    const r = decodeSelector({
      names: ["agent-*"],
      labels: { app: "agent" },
      hostLabels: { site: "a" },
      health: {
        probe: { action: { type: "tcp", port: 8080 }, periodSeconds: 2, failureThreshold: 3 },
        minReadySeconds: 5
      }
    })
    expect(r._tag).toBe("Success")
  })

  it("a host endpoint must be unix:// or tcp://host:port, and the error says which host", () => {
    const r = decodeConfig({ hosts: [{ name: "ok" }, { name: "bad", endpoint: "http://x" }] })
    expect(r._tag).toBe("Failure")
    expect(String(r._tag === "Failure" ? r.failure : "")).toMatch(/at \["hosts"\]\[1\]\["endpoint"\]/)
  })

  it("unknown keys are errors with their path, in the schema's decoder and in the adapter (no local-engine fallback)", async () => {
    for (const [host, key] of [
      [{ name: "remote", endpont: "tcp://10.255.255.1:2375" }, "endpont"],
      [{ name: "remote", host: "10.255.255.1", port: 2375 }, "host"]
    ] as const) {
      const r = decodeDockerAdapterConfig({ hosts: [host] })
      expect(r._tag, key).toBe("Failure")
      expect(String(r._tag === "Failure" ? r.failure : "")).toMatch(new RegExp(`at \\["hosts"\\]\\[0\\]\\["${key}"\\]`))
      const exit = await Effect.runPromiseExit(makeDockerAdapter({ hosts: [host] } as never))
      expect(Exit.isFailure(exit), key).toBe(true)
      expect(String(exit)).toMatch(new RegExp(`DockerConfigError.*\\["hosts"\\]\\[0\\]\\["${key}"\\]`, "s"))
    }
    expect(decodeDockerAdapterConfig({ pullPolicy: "Always", keepOld: 1 })._tag).toBe("Success")
  })

  it("registry passwords are redacted once decoded", () => {
    const r = decodeConfig({ registries: { "localhost:5000": { username: "u", password: "s3cr3t-pw" } } })
    expect(r._tag).toBe("Success")
    expect(JSON.stringify(r._tag === "Success" ? r.success : {})).not.toContain("s3cr3t-pw")
    const creds = r._tag === "Success" ? r.success.registries?.["localhost:5000"] : undefined
    expect(creds && "password" in creds ? String(creds.password) : "missing").not.toContain("s3cr3t-pw")
    expect(creds && "password" in creds ? String(creds.password) : "missing").not.toBe("missing")
  })

  it("the layer fails with DockerConfigError naming the host when a TLS file is missing", async () => {
    const exit = await Effect.runPromiseExit(
      makeDockerAdapter({
        hosts: [
          {
            name: "remote-1",
            endpoint: "tcp://10.0.0.1:2376",
            tls: { cert: "/nonexistent/cert.pem", key: "/nonexistent/key.pem" }
          }
        ]
      })
    )
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(exit)).toMatch(
      /DockerConfigError.*host remote-1: cannot read the TLS client certificate \/nonexistent\/cert.pem/s
    )
    expect(DockerAdapter.layer).toBeTypeOf("function")
  })
})

const image = {
  Config: {
    User: "10001:10001",
    Env: ["PATH=/bin", "AGENT_VERSION=v1"],
    Cmd: null,
    Entrypoint: ["/bin/sh", "/agent.sh"],
    WorkingDir: "/tmp",
    Labels: { "org.opencontainers.image.version": "v1" },
    ExposedPorts: { "8080/tcp": {} },
    Healthcheck: { Test: ["CMD-SHELL", "wget ..."], Interval: 1_000_000_000 },
    Volumes: null
  }
}
const container = {
  Id: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  Name: "/agent-1",
  Config: {
    Hostname: "0123456789ab",
    User: "10001:10001",
    Env: ["PATH=/bin", "AGENT_VERSION=v1", "AGENT_SITE=a"],
    Cmd: ["--site", "a"],
    Entrypoint: ["/bin/sh", "/agent.sh"],
    WorkingDir: "/tmp",
    Labels: { "org.opencontainers.image.version": "v1", app: "agent" },
    ExposedPorts: { "8080/tcp": {} },
    Healthcheck: { Test: ["CMD-SHELL", "wget ..."], Interval: 1_000_000_000 },
    Volumes: { "/cache": {} },
    StopTimeout: 5
  },
  HostConfig: {
    NetworkMode: "net-a",
    RestartPolicy: { Name: "unless-stopped", MaximumRetryCount: 0 },
    PortBindings: { "8080/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
    Binds: ["/srv/agent:/etc/agent"],
    Mounts: [{ Type: "volume", Source: "agent-data", Target: "/data" }],
    Links: ["/db:/agent-1/database"],
    VolumesFrom: ["sidecar"],
    ContainerIDFile: "",
    KernelMemory: 0
  },
  Mounts: [
    { Type: "bind", Source: "/srv/agent", Destination: "/etc/agent", RW: true },
    { Type: "volume", Name: "agent-data", Destination: "/data", RW: true },
    { Type: "volume", Name: "f".repeat(64), Destination: "/cache", RW: true },
    { Type: "volume", Name: "e".repeat(64), Destination: "/shared", RW: true }
  ],
  NetworkSettings: {
    Networks: {
      "net-b": { Aliases: ["0123456789ab", "agent-b"] },
      "net-a": { Aliases: ["agent", "0123456789ab"], IPAMConfig: null }
    }
  }
}

describe("recreating a container from its inspect", () => {
  const spec = extractCreateSpec(container, image, { inheritedDestinations: new Set(["/shared"]) })

  it("keeps the container's own settings and drops what came from its image", () => {
    expect(spec.config.Env).toEqual(["AGENT_SITE=a"])
    expect(spec.config.Labels).toEqual({ app: "agent" })
    expect(spec.config.Cmd).toEqual(["--site", "a"])
    for (const f of ["User", "Entrypoint", "WorkingDir", "Healthcheck", "ExposedPorts", "Hostname"]) {
      expect(spec.config[f], f).toBeUndefined()
    }
    expect(spec.config.Volumes).toEqual({ "/cache": {} })
    expect(spec.config.StopTimeout).toBe(5)
  })

  it("copies the host configuration, converting links and dropping deprecated fields", () => {
    expect(spec.hostConfig.RestartPolicy).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 })
    expect(spec.hostConfig.Binds).toEqual(["/srv/agent:/etc/agent"])
    expect(spec.hostConfig.Links).toEqual(["db:database"])
    expect(spec.hostConfig.KernelMemory).toBeUndefined()
    expect(spec.hostConfig.ContainerIDFile).toBeUndefined()
  })

  it("carries anonymous volumes as explicit mounts, but not those inherited through VolumesFrom", () => {
    expect(spec.hostConfig.Mounts).toEqual([
      { Type: "volume", Source: "agent-data", Target: "/data" },
      { Type: "volume", Source: "f".repeat(64), Target: "/cache", ReadOnly: false }
    ])
  })

  it("keeps the user's network aliases (not Docker's short-id alias), primary network first", () => {
    expect(spec.networks).toEqual([
      { name: "net-a", aliases: ["agent"] },
      { name: "net-b", aliases: ["agent-b"] }
    ])
    const req = buildCreateRequest(spec, "agent:v2", "agent-1.sluice-new.k", { AGENT_SITE: "b", EXTRA: "1" })
    expect(req.create.name).toBe("agent-1.sluice-new.k")
    expect(req.create.Image).toBe("agent:v2")
    expect(req.create.Env).toEqual(["AGENT_SITE=b", "EXTRA=1"])
    expect(req.create.NetworkingConfig).toEqual({ EndpointsConfig: { "net-a": { Aliases: ["agent"] } } })
    expect(req.connect).toEqual([{ network: "net-b", endpoint: { Aliases: ["agent-b"] } }])
  })

  it("only a fixed host port, a static address, a MAC or the host network prevent a side-by-side start", () => {
    expect(surgeConflict(spec)).toBeUndefined()
    const fixed = extractCreateSpec(
      {
        ...container,
        HostConfig: { ...container.HostConfig, PortBindings: { "8080/tcp": [{ HostIp: "", HostPort: "8080" }] } }
      },
      image
    )
    expect(surgeConflict(fixed)).toMatch(/host port 8080/)
    const hostNet = extractCreateSpec(
      { ...container, HostConfig: { ...container.HostConfig, NetworkMode: "host" } },
      image
    )
    expect(surgeConflict(hostNet)).toBe("host network")
  })
})

describe("tar (core's, as the adapter writes and reads config files)", () => {
  it("round-trips files with their mode and owner", () => {
    const packed = writeTar([
      { path: "etc/agent/config.txt", content: Buffer.from("level=debug\n"), mode: 0o640, uid: 10001, gid: 10001 },
      { path: `${"d/".repeat(60)}long.txt`, content: Buffer.alloc(1000, 120) }
    ])
    if (Result.isFailure(packed)) throw packed.failure
    expect(packed.success.length % 512).toBe(0)
    const files = readTar(packed.success)
    if (Result.isFailure(files)) throw files.failure
    expect(files.success.get("etc/agent/config.txt")).toMatchObject({ mode: 0o640, uid: 10001, gid: 10001 })
    expect(Buffer.from(files.success.get("etc/agent/config.txt")?.content ?? []).toString()).toBe("level=debug\n")
    expect(files.success.get(`${"d/".repeat(60)}long.txt`)?.content.length).toBe(1000)
  })
})

describe("errors", () => {
  it("scrubs secrets in plain, base64 and auth-header form", () => {
    const s = new SecretScrubber()
    s.add("hunter2-secret")
    const b64 = Buffer.from("hunter2-secret").toString("base64")
    expect(s.scrub(`pw hunter2-secret and ${b64}; X-Registry-Auth: eyJ1c2VybmFtZSI6InUifQ==`)).toBe(
      "pw *** and ***; X-Registry-Auth: ***"
    )
  })

  it("connection failures and daemon-internal errors are transient; bad requests and refused access are not", () => {
    expect(isTransient({ code: "ECONNREFUSED", message: "connect ECONNREFUSED /var/run/docker.sock" })).toBe(true)
    expect(isTransient({ code: "ENOENT", message: "connect ENOENT /var/run/docker.sock" })).toBe(true)
    expect(
      isTransient({ statusCode: 500, json: { message: "failed to update store for object type *libnetwork.endpoint" } })
    ).toBe(true)
    expect(isTransient({ statusCode: 503, message: "unavailable" })).toBe(true)
    expect(isTransient({ statusCode: 404, json: { message: "No such container: x" } })).toBe(false)
    expect(isTransient({ statusCode: 409, json: { message: "Conflict. The container name is already in use" } })).toBe(
      false
    )
    expect(isTransient({ statusCode: 500, json: { message: "unauthorized: authentication required" } })).toBe(false)
    expect(
      isTransient({
        statusCode: 500,
        json: { message: "driver failed programming external connectivity: port is already allocated" }
      })
    ).toBe(false)
  })
})
