import * as fs from "node:fs"
import * as path from "node:path"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { StatusVector } from "../../src/machine/status.js"
import { jsonPieces, makeFileStore } from "../../src/store/FileStore.js"
import type { JournalEntry } from "../../src/store/RolloutStore.js"
import { propertyRuns } from "../properties/scenario.js"
import { header, run, tmp } from "./support/store.js"

const joined = (value: unknown) => [...jsonPieces(value)].join("")

describe("the file store's JSON, written in pieces", () => {
  it("is the text JSON.stringify makes, for any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        expect(joined(value)).toBe(JSON.stringify(value))
      }),
      { numRuns: propertyRuns(300) }
    )
  })

  it("leaves out what JSON.stringify leaves out and calls toJSON with the key, at any depth", () => {
    const vector = StatusVector.empty(3).update([1], () => 4)
    const value = {
      a: undefined,
      f: () => 1,
      s: Symbol("s"),
      list: [
        undefined,
        () => 1,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        -0,
        { deep: { deeper: { deepest: [1, undefined] } } }
      ],
      when: new Date(0),
      keyed: { toJSON: (key: string) => `key was ${key}` },
      gone: { toJSON: () => undefined },
      status: vector,
      map: new Map([["k", 1]]),
      nothing: null,
      "2": "integer-like keys first",
      nested: { list: [{ toJSON: (key: string) => ({ index: key }) }] }
    }
    expect(joined(value)).toBe(JSON.stringify(value))
    expect(joined([vector, undefined])).toBe(JSON.stringify([vector, undefined]))
  })

  it("writes and reads back a header and journal batch larger than the write buffer, multi-byte text across its edges", async () => {
    const store = makeFileStore(tmp())
    // 3 bytes of UTF-8 per character, and pairs of surrogates: 1 MiB buffers split inside both.
    const text = "€😀".repeat(300_000)
    await run(store.create({ ...header("big"), spec: { text, list: Array.from({ length: 5_000 }, (_, i) => i) } }))
    const entries: JournalEntry[] = Array.from({ length: 3 }, (_, i) => ({
      kind: "event",
      at: i,
      event: { type: "ABORT", reason: `${i}:${text}` }
    }))
    await run(store.append("big", entries))
    const read = await run(store.read("big"))
    expect((read.header.spec as { text: string }).text).toBe(text)
    expect(read.entries).toEqual(entries)
  })

  it("writes the header file exactly as JSON.stringify would", async () => {
    const root = tmp()
    const store = makeFileStore(root)
    const h = { ...header("exact"), spec: { a: [1, "é", { b: null }], c: undefined } }
    await run(store.create(h))
    expect(fs.readFileSync(path.join(root, "exact", "header.json"), "utf8")).toBe(`${JSON.stringify(h)}\n`)
  })
})
