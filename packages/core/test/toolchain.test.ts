import { describe, expect, it } from "vitest"

describe("dev toolchain", () => {
  it("runs the test suite on the pinned Node (>= 22.19, from the node devDependency)", () => {
    console.log(`test runner Node: ${process.version} at ${process.execPath}`)
    const [major, minor] = process.versions.node.split(".").map(Number)
    expect(major! > 22 || (major === 22 && minor! >= 19)).toBe(true)
  })
})
