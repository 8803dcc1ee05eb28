import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { loadBundle, mergeData } from "../../src/index.js"
import { bundle } from "../helpers.js"

// Regression: mergeData assigned `out[k] = …`, so a `__proto__` key in bundle data (JSON.parse and
// YAML make it an ordinary key) replaced the merged object's prototype: the key vanished from the
// data the policies see, and its members showed up as inherited properties of the result.
describe("bundle data merge with __proto__ keys", () => {
  it("mergeData keeps __proto__ as a data key and changes no prototype", () => {
    const over = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": 1}}}')
    const merged = mergeData({ a: { x: 1 } }, over) as Record<string, Record<string, unknown>>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
    expect(merged.polluted).toBeUndefined()
    expect(merged.a?.polluted).toBeUndefined()
    expect(Object.keys(merged).sort()).toEqual(["__proto__", "a"])
    expect(JSON.stringify(merged)).toBe('{"a":{"x":1,"__proto__":{"polluted":1}},"__proto__":{"polluted":true}}')
  })

  it.effect("user data with a __proto__ key reaches the bundle as data", () =>
    Effect.gen(function* () {
      const data = JSON.parse('{"__proto__": {"polluted": true}, "sluice": {"params": {"label": "x"}}}')
      const b = yield* loadBundle({ path: bundle("basic.tar.gz"), data })
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(Object.getPrototypeOf(b.data)).toBe(Object.prototype)
      expect(Object.keys(b.data as object).sort()).toEqual(["__proto__", "sluice"])
      expect((b.data as Record<string, unknown>).polluted).toBeUndefined()
    })
  )
})
