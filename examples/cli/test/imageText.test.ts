import { describe, expect, it } from "vitest"
import { imageChange, versionOf } from "../src/render/text.js"

const DIGEST = `sha256:${"ab".repeat(32)}`

describe("images in the progress view (core's image reference parser)", () => {
  it("shows the version change of one repository", () => {
    expect(imageChange("r.io/agents/a:1.0.0", "r.io/agents/a:2.0.0")).toBe("r.io/agents/a: 1.0.0 → 2.0.0")
    // one repository however written: Docker Hub's short and long forms
    expect(imageChange("agent:1", "docker.io/library/agent:2")).toBe("docker.io/library/agent: 1 → 2")
    expect(imageChange("r.io/a:1", `r.io/a:2@${DIGEST}`)).toBe(`r.io/a: 1 → 2@${DIGEST}`)
    expect(imageChange(undefined, "r.io/a:2")).toBe("r.io/a:2")
  })

  it("shows both images when the repositories differ", () => {
    expect(imageChange("r.io/a:1", "r.io/b:2")).toBe("r.io/a:1 → r.io/b:2")
    expect(imageChange("localhost:5000/a:1", "localhost:5001/a:2")).toBe("localhost:5000/a:1 → localhost:5001/a:2")
  })

  it("versionOf: the tag, the digest, latest, or the whole image", () => {
    expect(versionOf("r.io/a:1")).toBe("1")
    expect(versionOf(`r.io/a@${DIGEST}`)).toBe(DIGEST)
    expect(versionOf("r.io/a")).toBe("latest")
    expect(versionOf("r.io/a:1", "r.io/b:1")).toBe("r.io/a:1")
    expect(versionOf("not a reference")).toBe("not a reference")
  })
})
