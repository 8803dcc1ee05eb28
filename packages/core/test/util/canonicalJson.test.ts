import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CanonicalJsonError, canonicalJson, canonicalJsonResult, layOut } from "../../src/util/canonicalJson.js"
import { sha256Hex, sha256OfJson } from "../../src/util/hash.js"

describe("canonicalJson (RFC 8785)", () => {
  it("the RFC's example: numbers as ECMAScript writes them, minimal string escapes, sorted keys", () => {
    // RFC 8785 §3.2.2 (input) and §3.2.3 (output).
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}'
    )
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
  })

  it("sorts keys by UTF-16 code units (RFC 8785 §3.2.3)", () => {
    const input = { "\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\ud83d\ude00": 5, "\u0080": 6, "\u00f6": 7 }
    expect(canonicalJson(input)).toBe('{"\\r":2,"1":4,"\u0080":6,"\u00f6":7,"\u20ac":1,"\ud83d\ude00":5,"\ufb33":3}')
  })

  it("puts integer-like keys in string order, not JavaScript's numeric order", () => {
    expect(canonicalJson({ a: 3, "9": 2, "10": 1 })).toBe('{"10":1,"9":2,"a":3}')
    expect(canonicalJson({ x: { "9": [], "10": {} } }, 2)).toBe('{\n  "x": {\n    "10": {},\n    "9": []\n  }\n}')
  })

  it("drops undefined members, nests, and ignores key order", () => {
    expect(canonicalJson({ b: [1, { d: undefined, c: "x" }], a: undefined })).toBe('{"b":[1,{"c":"x"}]}')
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse())
        expect(canonicalJson(reversed)).toBe(canonicalJson(o))
      })
    )
  })

  it("round-trips every JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)))
      })
    )
  })

  it("with indent, lays the canonical bytes out as JSON.stringify does", () => {
    const noIntegerKeys = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: "small" },
        fc.constantFrom(null, true, false, 0, -1.5, 1e21),
        fc.string(),
        fc.array(tie("value")),
        fc.dictionary(
          fc.string().filter((k) => !/^\d+$/.test(k)),
          tie("value")
        )
      )
    })).value
    fc.assert(
      fc.property(noIntegerKeys, (v) => {
        const compact = canonicalJson(v)
        const expected = JSON.stringify(JSON.parse(compact), null, 2)
        expect(canonicalJson(v, 2)).toBe(expected)
        // the path taken when integer-like keys are present lays out the same way
        expect(layOut(compact, "  ")).toBe(expected)
      })
    )
    expect(canonicalJson({ s: 'a{b}[c],d:"e\\' }, 2)).toBe('{\n  "s": "a{b}[c],d:\\"e\\\\"\n}')
    expect(layOut(canonicalJson({ s: 'a{b}[c],d:"e\\', t: [[], {}, [{}]] }), "  ")).toBe(
      JSON.stringify({ s: 'a{b}[c],d:"e\\', t: [[], {}, [{}]] }, null, 2)
    )
  })

  it("refuses what JSON cannot say, as data (and canonicalJson throws it)", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      { a: -Infinity },
      ["\ud800"],
      "x\udc00",
      cyclic,
      undefined
    ]) {
      const r = canonicalJsonResult(bad)
      expect(Result.isFailure(r)).toBe(true)
      if (Result.isFailure(r)) expect(r.failure).toBeInstanceOf(CanonicalJsonError)
      expect(() => canonicalJson(bad)).toThrow(CanonicalJsonError)
    }
    expect(canonicalJsonResult({ ok: ["\ud83d\ude00"] })).toEqual(Result.succeed('{"ok":["\ud83d\ude00"]}'))
  })
})

describe("sha256", () => {
  it("of a string (UTF-8) and of bytes", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(sha256Hex(new TextEncoder().encode("abc"))).toBe(sha256Hex("abc"))
    expect(sha256Hex("é")).toBe(sha256Hex(new Uint8Array([0xc3, 0xa9])))
  })

  it("of a JSON value: its canonical form, whatever the key order", () => {
    expect(sha256OfJson({ b: 1, a: [2, { d: 1, c: 2 }] })).toBe(sha256Hex('{"a":[2,{"c":2,"d":1}],"b":1}'))
    expect(sha256OfJson({ a: [2, { c: 2, d: 1 }], b: 1 })).toBe(sha256OfJson({ b: 1, a: [2, { d: 1, c: 2 }] }))
    expect(() => sha256OfJson({ n: Number.NaN })).toThrow(CanonicalJsonError)
  })
})
