import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect } from "vitest"
import { stringify } from "yaml"
import { decodeRolloutSpec, encodeRolloutSpec, parseRolloutSpec, type SpecError } from "../../src/spec/index.js"
import { arbSequentialSpecDocument, arbSpecDocument, numRuns } from "./arbitraries.js"

type Path = ReadonlyArray<string | number>

/** Every path of a JSON-like tree (containers and leaves), root excluded. */
function pathsOf(value: unknown, at: Path = []): Array<Path> {
  if (typeof value !== "object" || value === null) return []
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((v, i) => [i, v])
    : Object.entries(value)
  return entries.flatMap(([k, v]) => [[...at, k], ...pathsOf(v, [...at, k])])
}

function update(
  root: unknown,
  path: Path,
  f: (parent: Record<string | number, unknown>, key: string | number) => void
) {
  const copy = structuredClone(root) as Record<string | number, unknown>
  let parent = copy
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>
  f(parent, path[path.length - 1]!)
  return copy
}

/** Objects whose keys are free-form (maps), where an extra key is legal. */
const FREE_FORM = [
  ["metadata", "labels"],
  ["spec", "target", "selector"],
  ["spec", "artifact", "config", "env"],
  ["spec", "artifact", "config", "files"]
]
const underFreeForm = (path: Path) =>
  FREE_FORM.some((prefix) => prefix.every((seg, i) => path[i] === seg) && path.length >= prefix.length)

const expectSpecError = (error: SpecError) => {
  expect(error._tag).toBe("SpecError")
  expect(error.problems.length).toBeGreaterThan(0)
  for (const p of error.problems) {
    expect(typeof p.path).toBe("string")
    expect(p.message.length).toBeGreaterThan(0)
  }
  expect(typeof error.message).toBe("string")
}

describe("spec properties", () => {
  test.prop([arbSpecDocument], { numRuns })("valid documents decode, and encode → decode round-trips", (doc) => {
    const decoded = decodeRolloutSpec(doc)
    if (Result.isFailure(decoded)) throw new Error(`${decoded.failure.message}\n${JSON.stringify(doc)}`)
    const encoded = encodeRolloutSpec(decoded.success)
    if (Result.isFailure(encoded)) throw new Error(encoded.failure.message)
    expect(decodeRolloutSpec(encoded.success)).toEqual(decoded)
    // The encoded form is plain JSON data.
    expect(decodeRolloutSpec(JSON.parse(JSON.stringify(encoded.success)))).toEqual(decoded)
  })

  test.prop([arbSequentialSpecDocument], { numRuns })(
    "topology order: sequential documents decode and round-trip; values need it; blue-green and partition reject it",
    (doc) => {
      const decoded = decodeRolloutSpec(doc)
      if (Result.isFailure(decoded)) throw new Error(`${decoded.failure.message}\n${JSON.stringify(doc)}`)
      const encoded = encodeRolloutSpec(decoded.success)
      if (Result.isFailure(encoded)) throw new Error(encoded.failure.message)
      expect(encoded.success.spec.topology).toEqual(doc.spec.topology)
      expect(decodeRolloutSpec(encoded.success)).toEqual(decoded)
      const { order: _order, ...spread } = doc.spec.topology
      const withoutOrder = decodeRolloutSpec({ ...doc, spec: { ...doc.spec, topology: spread } })
      expect(Result.isSuccess(withoutOrder)).toBe(spread.values === undefined)
      if (Result.isFailure(withoutOrder))
        expect(withoutOrder.failure.problems.map((p) => p.path)).toEqual(["spec.topology.values"])
      for (const strategy of [{ blueGreen: {} }, { partition: { partitions: [0] } }]) {
        const rejected = decodeRolloutSpec({ ...doc, spec: { ...doc.spec, strategy } })
        if (Result.isSuccess(rejected)) throw new Error("order: sequential accepted with blue-green/partition")
        expect(rejected.failure.problems.map((p) => p.path)).toEqual(["spec.topology.order"])
      }
    }
  )

  test.prop([arbSpecDocument], { numRuns: Math.max(1, Math.floor(numRuns / 4)) })(
    "YAML text of a valid document parses to the same spec",
    (doc) => {
      const decoded = decodeRolloutSpec(doc)
      expect(Result.isSuccess(decoded)).toBe(true)
      expect(parseRolloutSpec(stringify(doc))).toEqual(decoded)
      expect(parseRolloutSpec(JSON.stringify(doc, null, 2), { format: "json" })).toEqual(decoded)
    }
  )

  test.prop(
    [
      arbSpecDocument,
      fc.nat(),
      fc.oneof(
        fc.record({ op: fc.constant("replace" as const), value: fc.anything() }),
        fc.record({ op: fc.constant("delete" as const) }),
        fc.record({ op: fc.constant("unknownKey" as const), value: fc.jsonValue() })
      )
    ],
    { numRuns }
  )("random corruptions give a SpecError or a valid spec, never an exception", (doc, pick, mutation) => {
    const paths = pathsOf(doc)
    const path = paths[pick % paths.length]!
    let corrupted: unknown
    if (mutation.op === "replace") {
      corrupted = update(doc, path, (parent, key) => {
        parent[key] = mutation.value
      })
    } else if (mutation.op === "delete") {
      corrupted = update(doc, path, (parent, key) => {
        if (Array.isArray(parent)) parent.splice(Number(key), 1)
        else delete parent[key]
      })
    } else {
      corrupted = update(doc, [...path, "zzUnknown"], (parent, key) => {
        if (typeof parent === "object" && parent !== null && !Array.isArray(parent)) parent[key] = mutation.value
      })
    }
    const result = decodeRolloutSpec(corrupted)
    if (Result.isFailure(result)) expectSpecError(result.failure)
    if (mutation.op === "unknownKey") {
      const parent = path.reduce<unknown>((node, seg) => (node as Record<string | number, unknown>)[seg], corrupted)
      if (typeof parent === "object" && parent !== null && !Array.isArray(parent) && !underFreeForm(path)) {
        if (Result.isSuccess(result)) throw new Error(`unknown field at ${path.join(".")} accepted`)
        expect(
          result.failure.problems.some((p) => p.path.endsWith(".zzUnknown") && p.message.startsWith("unknown field"))
        ).toBe(true)
      }
    }
  })

  test.prop([fc.string({ maxLength: 200 }), fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 })], { numRuns })(
    "arbitrary text and --set expressions never throw",
    (text, set) => {
      const result = parseRolloutSpec(text, { set, values: [text] })
      if (Result.isFailure(result)) expectSpecError(result.failure)
    }
  )
})
