import { describe, expect, it } from "vitest"
import { deepMerge } from "../../src/util/deepMerge.js"

const KEEP = { nullDeletes: false }
const DELETE = { nullDeletes: true }

describe("deepMerge", () => {
  it("merges objects key by key; arrays and scalars replace", () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1, e: "x" }, { a: { c: [3], f: 2 }, e: { g: 1 } }, KEEP)).toEqual({
      a: { b: 1, c: [3], f: 2 },
      d: 1,
      e: { g: 1 }
    })
    expect(deepMerge({ a: 1 }, [1], KEEP)).toEqual([1])
    expect(deepMerge([1, 2], { a: 1 }, KEEP)).toEqual({ a: 1 })
  })

  it("null deletes a key (Helm values) or is kept as a value (OPA data)", () => {
    expect(deepMerge({ a: { b: 1 }, c: 2 }, { a: null }, DELETE)).toEqual({ c: 2 })
    expect(deepMerge({ a: { b: 1 }, c: 2 }, { a: null }, KEEP)).toEqual({ a: null, c: 2 })
  })

  it("undefined leaves the base as it is", () => {
    expect(deepMerge({ a: 1 }, undefined, KEEP)).toEqual({ a: 1 })
    expect(deepMerge({ a: 1 }, { a: undefined }, DELETE)).toEqual({ a: 1 })
  })

  it("modifies neither input", () => {
    const base = { a: { b: 1 } }
    const overlay = { a: { c: 2 } }
    deepMerge(base, overlay, KEEP)
    expect(base).toEqual({ a: { b: 1 } })
    expect(overlay).toEqual({ a: { c: 2 } })
  })

  it("keeps __proto__ and constructor keys as data: no prototype changes", () => {
    for (const options of [KEEP, DELETE]) {
      const overlay = JSON.parse(
        '{"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": 1}}, "constructor": {"prototype": {"polluted": 2}}}'
      )
      const base = JSON.parse('{"a": {"x": 1}, "__proto__": {"kept": true}}')
      const merged = deepMerge(base, overlay, options) as Record<string, Record<string, unknown>>
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      expect(Object.getPrototypeOf(merged)).toBe(Object.prototype)
      expect(Object.getPrototypeOf(merged.a)).toBe(Object.prototype)
      expect(merged.polluted).toBeUndefined()
      expect(merged.a?.polluted).toBeUndefined()
      // the keys are still there, as data
      expect(Object.keys(merged).sort()).toEqual(["__proto__", "a", "constructor"])
      expect(JSON.parse(JSON.stringify(merged))).toEqual(
        JSON.parse(
          '{"a": {"x": 1, "__proto__": {"polluted": 1}}, "__proto__": {"kept": true, "polluted": true}, "constructor": {"prototype": {"polluted": 2}}}'
        )
      )
    }
  })
})
