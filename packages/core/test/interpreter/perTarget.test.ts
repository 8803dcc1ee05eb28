import { describe, expect, it } from "vitest"
import { PerTarget } from "../../src/interpreter/perTarget.js"

describe("PerTarget", () => {
  const ids = ["a", "b", "c"]

  it("keeps a value per known target, the last one set", () => {
    const values = new PerTarget<{ readonly image: string }>(ids)
    expect(values.has("b")).toBe(false)
    expect(values.get("b")).toBeUndefined()
    values.set("b", { image: "v1" })
    values.set("b", { image: "v2" })
    values.set("a", { image: "v3" })
    expect(values.get("b")).toEqual({ image: "v2" })
    expect(values.get("a")).toEqual({ image: "v3" })
    expect(values.has("c")).toBe(false)
  })

  it("keeps ids the machine does not know apart, without touching a known target's slot", () => {
    const values = new PerTarget<string>(ids)
    values.set("zz", "other")
    expect(values.get("zz")).toBe("other")
    expect(values.has("zz")).toBe(true)
    expect(values.has("a")).toBe(false)
    expect(values.get("nope")).toBeUndefined()
  })
})
