import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  applyOverlays,
  parseRolloutSpec,
  parseSetExpression,
  parseSetPath,
  parseSetValue,
  type RolloutSpec,
  type SpecError,
  setAtPath
} from "../../src/spec/index.js"
import { deepMerge as merge } from "../../src/util/deepMerge.js"

/** Overlays merge with Helm's semantics: a `null` removes the key. */
const deepMerge = (base: unknown, overlay: unknown) => merge(base, overlay, { nullDeletes: true })

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../fixtures/specs/${name}`, import.meta.url)), "utf8")

const failure = (r: Result.Result<RolloutSpec, SpecError>): SpecError => {
  if (Result.isSuccess(r)) throw new Error("expected a SpecError")
  return r.failure
}
const success = (r: Result.Result<RolloutSpec, SpecError>): RolloutSpec => {
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("syntax errors become SpecError with line/column", () => {
  it("YAML", () => {
    const e = failure(parseRolloutSpec("apiVersion: x\nspec: [1,\nkind: y\n", { source: "bad.yaml" }))
    expect(e.problems[0]).toMatchObject({ path: "", source: "bad.yaml", line: 3, column: 1 })
    expect(e.problems[0]?.message).toMatch(/^YAML syntax error: /)
  })

  it("duplicate keys, several documents", () => {
    expect(failure(parseRolloutSpec("a: 1\na: 2\n")).problems[0]).toMatchObject({ line: 2, column: 1 })
    expect(failure(parseRolloutSpec("a: 1\n---\nb: 2\n")).problems[0]?.message).toMatch(/multiple documents/)
  })

  it("JSON (strict when format is json)", () => {
    const e = failure(parseRolloutSpec('{\n  "apiVersion": "x",\n}', { format: "json", source: "r.json" }))
    expect(e.problems[0]).toMatchObject({ source: "r.json", line: 3, column: 1 })
    expect(e.problems[0]?.message).toMatch(/^JSON syntax error: /)
    // YAML mode reads JSON too.
    expect(success(parseRolloutSpec(fixture("partition.json"))).metadata.name).toBe("db-agent")
  })

  it("circular aliases are rejected, not followed", () => {
    expect(failure(parseRolloutSpec("a: &x [*x]\n")).problems[0]?.message).toMatch(/circular/)
  })

  it("an empty document is a spec problem", () => {
    expect(failure(parseRolloutSpec("")).problems[0]?.message).toMatch(/^expected a Rollout document/)
  })
})

describe("overlays", () => {
  it("--values deep-merges (objects merge, arrays/scalars replace, null removes) then --set applies in order", () => {
    const spec = success(
      parseRolloutSpec(fixture("rolling.yaml"), {
        values: [{ name: "values-prod.yaml", text: fixture("values-prod.yaml") }],
        set: [
          "spec.strategy.canary.steps[2].setWeight=60",
          "spec.strategy.canary.steps[3]={setWeight: 100}",
          'metadata.labels["app.kubernetes.io/name"]=node-agent',
          "spec.health.minReadySeconds=10",
          "spec.health.minReadySeconds=12"
        ]
      })
    )
    expect(spec.spec.strategy).toEqual({
      canary: {
        steps: [{ setWeight: 5 }, { pause: {} }, { setWeight: 60 }, { setWeight: 100 }],
        maxUnavailable: { kind: "count", value: 1 }
      }
    })
    expect(spec.spec.health.progressDeadline).toBe(1_200_000)
    expect(spec.spec.health.minReadySeconds).toBe(12)
    expect(spec.spec.health.probe?.http).toEqual({ port: 8080, path: "/healthz" })
    expect(spec.metadata.labels).toEqual({ team: "platform", "app.kubernetes.io/name": "node-agent" })
  })

  it("problems are located in the document that supplied the value", () => {
    const e = failure(
      parseRolloutSpec(fixture("rolling.yaml"), {
        source: "rolling.yaml",
        values: [{ name: "prod.yaml", text: "spec:\n  health:\n    progressDeadline: soon\n" }],
        set: ["spec.strategy.rolling.batchSize=0"]
      })
    )
    expect(e.problems).toEqual([
      expect.objectContaining({
        path: "spec.strategy.rolling.batchSize",
        source: "--set spec.strategy.rolling.batchSize=0"
      }),
      expect.objectContaining({ path: "spec.health.progressDeadline", source: "prod.yaml", line: 3, column: 5 })
    ])
  })

  it("bad --set expressions and paths are SpecErrors", () => {
    const e = failure(
      parseRolloutSpec(fixture("rolling.yaml"), {
        set: ["novalue", "spec..x=1", "spec.strategy.rolling.batchSize.x=1", "spec.gates.analysis[3].name=x", "a[b]=1"]
      })
    )
    expect(e.problems.map((p) => `${p.source}: ${p.message}`)).toEqual([
      "--set novalue: expected key.path=value",
      "--set spec..x=1: bad path: empty path segment at position 6",
      "--set spec.strategy.rolling.batchSize.x=1: cannot set: spec.strategy.rolling.batchSize is a string, not an object",
      "--set spec.gates.analysis[3].name=x: cannot set: index 3 is out of range: spec.gates.analysis has 0 items",
      "--set a[b]=1: bad path: '[b]' is neither an index nor a quoted key"
    ])
  })

  it("a values document that is not a mapping, or not YAML", () => {
    const e = failure(
      parseRolloutSpec(fixture("rolling.yaml"), { values: ["- a\n- b\n", { name: "v.yaml", text: "a: [" }] })
    )
    expect(e.problems.map((p) => p.source)).toEqual(["values[0]", "v.yaml"])
  })

  it("parsed values objects are accepted too", () => {
    const spec = success(
      parseRolloutSpec(fixture("recreate.yaml"), { values: [{ value: { metadata: { name: "other" } } }] })
    )
    expect(spec.metadata.name).toBe("other")
  })
})

describe("overlay helpers", () => {
  it("deepMerge", () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3], e: 2 }, d: null })).toEqual({
      a: { b: 1, c: [3], e: 2 }
    })
    const merged = deepMerge({}, JSON.parse('{"__proto__": {"polluted": true}}')) as Record<string, unknown>
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.keys(merged)).toEqual(["__proto__"])
  })

  it("parseSetPath", () => {
    expect(parseSetPath("a.b[2].c")).toEqual(Result.succeed(["a", "b", 2, "c"]))
    expect(parseSetPath('labels["x.io/y"].z')).toEqual(Result.succeed(["labels", "x.io/y", "z"]))
    expect(parseSetPath("a\\.b.c")).toEqual(Result.succeed(["a.b", "c"]))
    expect(parseSetPath("a[0][1]")).toEqual(Result.succeed(["a", 0, 1]))
    for (const bad of ["", "a.", ".a", "a[", "a[x]", "a[0]b"])
      expect(Result.isFailure(parseSetPath(bad)), bad).toBe(true)
  })

  it("parseSetValue reads YAML scalars and flow collections", () => {
    expect(parseSetValue("5")).toBe(5)
    expect(parseSetValue("true")).toBe(true)
    expect(parseSetValue("25%")).toBe("25%")
    expect(parseSetValue("null")).toBe(null)
    expect(parseSetValue("")).toBe("")
    expect(parseSetValue("a: b")).toBe("a: b")
    expect(parseSetValue("[1, 2]")).toEqual([1, 2])
    expect(parseSetValue('"010"')).toBe("010")
  })

  it("setAtPath creates, replaces, appends and removes (copy-on-write)", () => {
    const doc = { a: { b: [1, 2] } }
    expect(setAtPath(doc, ["a", "b", 2], 3)).toEqual(Result.succeed({ a: { b: [1, 2, 3] } }))
    expect(setAtPath(doc, ["x", 0, "y"], 1)).toEqual(Result.succeed({ a: { b: [1, 2] }, x: [{ y: 1 }] }))
    expect(setAtPath(doc, ["a", "b"], null)).toEqual(Result.succeed({ a: {} }))
    expect(doc).toEqual({ a: { b: [1, 2] } })
  })

  it("parseSetExpression splits at the first '='", () => {
    const r = parseSetExpression("spec.target.selector.q=a=b")
    expect(Result.isSuccess(r) && r.success).toEqual({
      text: "spec.target.selector.q=a=b",
      path: ["spec", "target", "selector", "q"],
      value: "a=b"
    })
  })

  it("applyOverlays on an already-parsed document", () => {
    expect(applyOverlays({ a: 1 }, { values: [{ value: { b: 2 } }], set: ["c=3"] })).toEqual(
      Result.succeed({ a: 1, b: 2, c: 3 })
    )
  })
})
