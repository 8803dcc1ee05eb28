import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { containersForImage } from "../../src/domain/render.js"
import { imageName, imageRepository, imageVersion, parseImageRef } from "../../src/spec/ImageRef.js"

const DIGEST = `sha256:${"ab".repeat(32)}`
const ref = (raw: string) => {
  const r = parseImageRef(raw)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("image reference helpers", () => {
  it.each([
    ["agent", "agent", "latest"],
    ["agent:1.2", "agent", "1.2"],
    ["localhost:5000/sluice/agent:v2", "localhost:5000/sluice/agent", "v2"],
    ["localhost:5000/sluice/agent", "localhost:5000/sluice/agent", "latest"],
    [`r.io/team/agent@${DIGEST}`, "r.io/team/agent", DIGEST],
    [`r.io/team/agent:3@${DIGEST}`, "r.io/team/agent", `3@${DIGEST}`]
  ])("%s: name %s, version %s", (raw, name, version) => {
    expect(imageName(ref(raw))).toBe(name)
    expect(imageVersion(ref(raw))).toBe(version)
  })

  it("imageRepository normalizes, so one repository is recognized however it is written", () => {
    expect(imageRepository("agent:1")).toBe("docker.io/library/agent")
    expect(imageRepository("docker.io/library/agent:2")).toBe("docker.io/library/agent")
    expect(imageRepository(`index.docker.io/library/agent@${DIGEST}`)).toBe("docker.io/library/agent")
    expect(imageRepository("localhost:5000/a:1")).not.toBe(imageRepository("localhost:5001/a:1"))
    expect(imageRepository("r.io/a/b:1")).not.toBe(imageRepository("r.io/a:1"))
  })

  it("a string that is not a reference is its own repository", () => {
    expect(imageRepository("Bad Ref")).toBe("Bad Ref")
    expect(imageRepository("")).toBe("")
  })

  it("stays right past the bound of what it remembers", () => {
    for (let i = 0; i < 3000; i++) expect(imageRepository(`r.io/app-${i}:1`)).toBe(`r.io/app-${i}`)
    expect(imageRepository("agent:1")).toBe("docker.io/library/agent")
  })
})

describe("containersForImage", () => {
  it("matches the artifact's repository however it is written", () => {
    // `agent:2` and `docker.io/library/agent:1` are one repository: the second container is chosen,
    // not the first (a text comparison of repositories took the sidecar).
    expect(containersForImage([{ image: "sidecar:1" }, { image: "docker.io/library/agent:1" }], "agent:2")).toEqual([
      false,
      true
    ])
  })

  it("takes the first container when none runs the repository", () => {
    expect(containersForImage([{ image: "a:1" }, { image: "b:1" }], "c:2")).toEqual([true, false])
    expect(containersForImage([{ name: "no-image" }, { image: "c:1" }], "c:2")).toEqual([false, true])
  })
})
