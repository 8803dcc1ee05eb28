import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { canonicalImage, formatImageRef, type ImageRef, isSameImage, parseImageRef } from "../../src/spec/ImageRef.js"

const ok = (raw: string): ImageRef => {
  const r = parseImageRef(raw)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}
const reason = (raw: string): string => {
  const r = parseImageRef(raw)
  if (Result.isSuccess(r)) throw new Error(`expected ${raw} to be rejected`)
  return r.failure.reason
}
const DIGEST = `sha256:${"0123456789abcdef".repeat(4)}`

describe("parseImageRef", () => {
  it("registry with a dot, nested repository, tag", () => {
    expect(ok("registry.sluice.dev/agents/node-agent:2.0.0")).toEqual({
      raw: "registry.sluice.dev/agents/node-agent:2.0.0",
      registry: "registry.sluice.dev",
      repository: "agents/node-agent",
      tag: "2.0.0"
    })
  })

  it("localhost:5000/agent — the port is not a tag, and there is no tag", () => {
    expect(ok("localhost:5000/agent")).toEqual({
      raw: "localhost:5000/agent",
      registry: "localhost:5000",
      repository: "agent"
    })
  })

  it("localhost without a port is a registry", () => {
    expect(ok("localhost/agent:1").registry).toBe("localhost")
  })

  it("registry:5000/a/b:tag@sha256:… — port, tag and digest together", () => {
    expect(ok(`registry:5000/a/b:tag@${DIGEST}`)).toEqual({
      raw: `registry:5000/a/b:tag@${DIGEST}`,
      registry: "registry:5000",
      repository: "a/b",
      tag: "tag",
      digest: DIGEST
    })
  })

  it("digest without a tag", () => {
    const ref = ok(`r.io/agent@${DIGEST}`)
    expect(ref.tag).toBeUndefined()
    expect(ref.digest).toBe(DIGEST)
  })

  it("Docker Hub shorthand: no registry → docker.io, single component → library/", () => {
    expect(ok("agent:latest")).toEqual({
      raw: "agent:latest",
      registry: "docker.io",
      repository: "library/agent",
      tag: "latest"
    })
    expect(ok("sluice/agent")).toEqual({ raw: "sluice/agent", registry: "docker.io", repository: "sluice/agent" })
    expect(ok("index.docker.io/library/agent:1").registry).toBe("docker.io")
  })

  it("first component without '.', ':' or 'localhost' is a path component", () => {
    expect(ok("agents/node-agent:1").registry).toBe("docker.io")
    expect(ok("agents/node-agent:1").repository).toBe("agents/node-agent")
  })

  it("separators: '.', '_', '__' and dash runs", () => {
    expect(ok("r.io/a.b/c_d/e__f/g--h:1").repository).toBe("a.b/c_d/e__f/g--h")
    expect(reason("r.io/a___b")).toMatch(/must be/)
    expect(reason("r.io/-a")).toMatch(/must be/)
    expect(reason("r.io/a-")).toMatch(/must be/)
  })

  it("IPv4 and IPv6 registries", () => {
    expect(ok("10.0.0.1:443/agent:1").registry).toBe("10.0.0.1:443")
    expect(ok("[::1]:5000/agent:1").registry).toBe("[::1]:5000")
  })

  it("rejects uppercase repository components", () => {
    expect(reason("registry.sluice.dev/Agents/node-agent:1")).toBe(
      'repository path component "Agents" must be lowercase'
    )
    expect(reason("Agent:1")).toBe('repository path component "Agent" must be lowercase')
  })

  it("an uppercase first component is a registry (as in Docker)", () => {
    expect(ok("Registry.io/agent:1").registry).toBe("Registry.io")
  })

  it("rejects bad tags, digests, ports and empty parts", () => {
    expect(reason("r.io/agent:")).toMatch(/tag ""/)
    expect(reason("r.io/agent:.bad")).toMatch(/tag/)
    expect(reason(`r.io/agent:${"a".repeat(129)}`)).toMatch(/tag/)
    expect(reason("r.io/agent@sha256:abc")).toMatch(/digest/)
    expect(reason(`r.io/agent@sha512:${"0".repeat(64)}`)).toMatch(/digest/)
    expect(reason(`r.io/agent@sha256:${"A".repeat(64)}`)).toMatch(/digest/)
    expect(reason("r.io:port/agent")).toMatch(/port/)
    expect(reason("")).toBe("empty reference")
    expect(reason("r.io//agent")).toMatch(/empty repository path component/)
    expect(reason("r.io/")).toMatch(/missing repository/)
    expect(reason("r.io/agent :1")).toMatch(/whitespace/)
    expect(reason(":1")).toMatch(/missing repository/)
    expect(reason("-bad.io/agent")).toMatch(/domain/)
  })

  it("accepts :latest and keeps an absent tag absent", () => {
    expect(ok("r.io/agent:latest").tag).toBe("latest")
    expect(ok("r.io/agent").tag).toBeUndefined()
  })
})

describe("formatting and comparison", () => {
  it("formatImageRef is canonical and re-parses to the same parts", () => {
    for (const raw of ["agent", "localhost:5000/agent", `registry:5000/a/b:tag@${DIGEST}`, "r.io/a:1"]) {
      const ref = ok(raw)
      const again = ok(formatImageRef(ref))
      expect({ ...again, raw: "" }).toEqual({ ...ref, raw: "" })
    }
    expect(formatImageRef(ok("agent:1"))).toBe("docker.io/library/agent:1")
  })

  it("isSameImage normalizes Docker Hub names and the implicit latest tag", () => {
    expect(isSameImage(ok("agent:1"), "docker.io/library/agent:1")).toBe(true)
    expect(isSameImage(ok("agent"), "agent:latest")).toBe(true)
    expect(isSameImage(ok("r.io/agent:1"), "r.io/agent:2")).toBe(false)
    expect(isSameImage(ok(`r.io/agent:1@${DIGEST}`), "r.io/agent:1")).toBe(false)
    expect(isSameImage(ok("r.io/agent:1"), "not a ref")).toBe(false)
    expect(canonicalImage(ok("r.io/agent"))).toBe("r.io/agent:latest")
  })
})
