// Issue 9: decoding is linear in the document's size, and every problem carries a location.
// No test here measures time (the benchmark bench/spec-decode.bench.mjs does); these check that
// large, deep and alias-laden documents give the right answer, each problem at its line:column.
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { parseRolloutSpec, type RolloutSpec, type SpecError } from "../../src/spec/index.js"
import { MAX_NESTING, readYaml } from "../../src/spec/yamlDocument.js"
import { arbSpecDocument, numRuns } from "./arbitraries.js"

const failure = (r: Result.Result<RolloutSpec, SpecError>): SpecError => {
  if (Result.isSuccess(r)) throw new Error("expected a SpecError")
  return r.failure
}

const HEAD = "apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: node-agent\n  labels:\n"
const TAIL = `spec:
  target: { adapter: simulated }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy: { rolling: { batchSize: 10% } }
`
/** The first label is on this line (HEAD has 5 lines). */
const FIRST_LABEL_LINE = 6

/** A spec with `count` labels; `bad(i)` makes label i invalid (a bad key or a bad value). */
function withLabels(count: number, bad: (i: number) => "key" | "value" | undefined = () => undefined): string {
  const lines: Array<string> = []
  for (let i = 0; i < count; i++) {
    const b = bad(i)
    lines.push(
      b === "key" ? `    "bad key ${i}": v\n` : b === "value" ? `    l${i}: "bad value ${i}"\n` : `    l${i}: v${i}\n`
    )
  }
  return HEAD + lines.join("") + TAIL
}

describe("large documents", () => {
  it("a ~1 MB spec with 80,000 labels decodes, every label kept", () => {
    const text = withLabels(80_000)
    expect(text.length).toBeGreaterThan(1_000_000)
    const r = parseRolloutSpec(text)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(Object.keys(r.success.metadata.labels ?? {})).toHaveLength(80_000)
    expect(r.success.metadata.labels?.l79999).toBe("v79999")
  })

  it("~500 KB with 10,000 bad labels: one problem per bad label, each at the label's line and column", () => {
    const bad = (i: number) => (i % 4 !== 0 ? undefined : i % 8 === 0 ? "key" : "value")
    const e = failure(parseRolloutSpec(withLabels(40_000, bad), { source: "big.yaml" }))
    expect(e.problems).toHaveLength(10_000)
    const byPath = new Map(e.problems.map((p) => [p.path, p]))
    for (let i = 0; i < 40_000; i += 4) {
      const p = byPath.get(bad(i) === "key" ? `metadata.labels["bad key ${i}"]` : `metadata.labels.l${i}`)
      expect({ source: p?.source, line: p?.line, column: p?.column }).toEqual({
        source: "big.yaml",
        line: FIRST_LABEL_LINE + i,
        column: 5
      })
    }
  })

  it("a duplicate key among 20,000 is reported at its own line", () => {
    const text = withLabels(20_000).replace("    l19999: v19999\n", "    l3: again\n")
    expect(failure(parseRolloutSpec(text)).problems).toEqual([
      {
        path: "",
        message: "YAML syntax error: Map keys must be unique",
        source: "spec.yaml",
        line: FIRST_LABEL_LINE + 19_999,
        column: 5
      }
    ])
  })

  it("keys that name the same property are duplicates too (1 and '1', null and ~)", () => {
    expect(readYaml("1: a\n'1': b\n").problems.map((p) => p.message)).toEqual(["Map keys must be unique"])
    expect(readYaml("null: a\n~: b\n").problems.map((p) => p.message)).toEqual(["Map keys must be unique"])
    expect(readYaml("__proto__: a\n__proto__: b\n").problems.map((p) => p.message)).toEqual(["Map keys must be unique"])
  })

  it("keys named like Object.prototype's members become own properties; the prototype is untouched", () => {
    const { value, problems } = readYaml("__proto__: { polluted: 1 }\nconstructor: c\ntoString: t\n")
    expect(problems).toEqual([])
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.keys(value as object)).toEqual(["__proto__", "constructor", "toString"])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe("long lists", () => {
  const doc = (spec: string) =>
    `apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata: { name: a }\nspec:\n  target: { adapter: simulated }\n  artifact: { image: r.io/a:2 }\n${spec}`

  it("20,000 topology values: each repeat reported at its index and line", () => {
    const values = Array.from({ length: 20_000 }, (_, i) => `      - z${i === 7_000 || i === 19_999 ? 3 : i}\n`)
    const e = failure(
      parseRolloutSpec(
        doc(
          `  strategy: { rolling: { batchSize: 1 } }\n  topology:\n    key: zone\n    order: sequential\n    values:\n${values.join("")}`
        )
      )
    )
    // The values start on line 12.
    expect(e.problems.map((p) => [p.path, p.message, p.line])).toEqual([
      ["spec.topology.values[7000]", 'duplicate topology value "z3"', 12 + 7_000],
      ["spec.topology.values[19999]", 'duplicate topology value "z3"', 12 + 19_999]
    ])
  })

  const templates = (count: number, name: (i: number) => string) =>
    Array.from(
      { length: count },
      (_, i) =>
        `      - { name: ${name(i)}, provider: prometheus, address: http://p, query: q, successCondition: "result < 1" }\n`
    ).join("")
  const canaryWith = (ref: string, defined: string) =>
    doc(
      `  strategy:\n    canary:\n      steps:\n        - setWeight: 1\n        - analysis: { templates: [${ref}] }\n  gates:\n    analysis:\n${defined}`
    )

  it("5,000 analysis templates: a repeated name at its index", () => {
    const e = failure(
      parseRolloutSpec(
        canaryWith(
          "t1",
          templates(5_000, (i) => `t${i === 4_999 ? 0 : i}`)
        )
      )
    )
    expect(e.problems.map((p) => [p.path, p.message])).toEqual([
      ["spec.gates.analysis[4999].name", 'duplicate analysis name "t0"']
    ])
  })

  it("an unknown template among 5,000 names the first 20 and the count", () => {
    const e = failure(
      parseRolloutSpec(
        canaryWith(
          "nope",
          templates(5_000, (i) => `t${i}`)
        )
      )
    )
    const listed = Array.from({ length: 20 }, (_, i) => `t${i}`).join(", ")
    expect(e.problems.map((p) => [p.path, p.message])).toEqual([
      [
        "spec.strategy.canary.steps[1].analysis.templates[0]",
        `unknown analysis template "nope" (defined in spec.gates.analysis: ${listed}, … (5000 in all))`
      ]
    ])
  })
})

describe("deep nesting", () => {
  const nested = (depth: number) => `${"[".repeat(depth)}x${"]".repeat(depth)}`

  it(`${MAX_NESTING} levels are accepted, one more is a problem at the collection that goes too deep`, () => {
    expect(readYaml(nested(MAX_NESTING)).problems).toEqual([])
    const r = readYaml(nested(MAX_NESTING + 1))
    expect(r.problems.map((p) => ({ message: p.message, ...r.linePos(p.offset) }))).toEqual([
      { message: `mappings and lists nested more than ${MAX_NESTING} levels deep`, line: 1, column: MAX_NESTING + 1 }
    ])
  })

  it("a 100,000-deep flow list in a spec: one located problem, no stack overflow", () => {
    const prefix =
      "apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata: { name: x }\nspec:\n  target: { adapter: simulated, selector: { a: "
    const e = failure(parseRolloutSpec(`${prefix}${nested(100_000)} } }\n`))
    // Levels: the document's mapping, spec, target, selector, then the brackets: the
    // (MAX_NESTING − 4)th bracket is one too many.
    const firstBracket = prefix.length - prefix.lastIndexOf("\n")
    expect(e.problems).toEqual([
      {
        path: "",
        message: `YAML syntax error: mappings and lists nested more than ${MAX_NESTING} levels deep`,
        source: "spec.yaml",
        line: 5,
        column: firstBracket + MAX_NESTING - 4
      }
    ])
  })

  it("deep block mappings and block lists: located at the key or dash that goes too deep", () => {
    let map = ""
    for (let i = 0; i < 5_000; i++) map += `${" ".repeat(i)}k:\n`
    const m = readYaml(map)
    expect(m.problems.map((p) => m.linePos(p.offset))).toEqual([{ line: MAX_NESTING + 1, column: MAX_NESTING + 1 }])
    let seq = ""
    for (let i = 0; i < 5_000; i++) seq += `${" ".repeat(2 * i)}-\n`
    const s = readYaml(seq)
    expect(s.problems.map((p) => s.linePos(p.offset))).toEqual([{ line: MAX_NESTING + 1, column: 2 * MAX_NESTING + 1 }])
  })
})

describe("aliases", () => {
  const problemsOf = (text: string) =>
    failure(parseRolloutSpec(text)).problems.map((p) => ({ message: p.message, line: p.line, column: p.column }))

  it("a circular alias is located at the alias", () => {
    expect(problemsOf("a: &x [*x]\n")).toEqual([
      { message: "circular alias: *x refers to &x, which contains it", line: 1, column: 8 }
    ])
    expect(problemsOf("a: &x\n  b:\n    c: [1, *x]\n")).toEqual([
      { message: "circular alias: *x refers to &x, which contains it", line: 3, column: 12 }
    ])
  })

  it("an alias to no anchor, or to an anchor only defined after it, is located", () => {
    expect(problemsOf("a: *nope\n")).toEqual([
      { message: "unknown alias *nope (no anchor &nope before it)", line: 1, column: 4 }
    ])
    expect(problemsOf("a: *later\nb: &later 1\n")).toEqual([
      { message: "unknown alias *later (no anchor &later before it)", line: 1, column: 4 }
    ])
  })

  it("an alias bomb is refused at the alias that crosses the budget", () => {
    // Level i is a list of 9 aliases of level i−1: level 9 would expand to 9^9 nodes.
    let text = "a0: &a0 [x]\n"
    for (let i = 1; i <= 9; i++) text += `a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(", ")}]\n`
    const problems = problemsOf(text)
    expect(problems).toHaveLength(1)
    expect(problems[0]?.message).toMatch(/^aliases expand the document by more than 10000 nodes/)
    // Level 4 expands to 9^4 + … nodes: its aliases cross 10,000 (line 5).
    expect(problems[0]?.line).toBe(5)
  })

  it("a collection (or an alias of one) as a mapping key is located", () => {
    expect(problemsOf("a: &m {x: 1}\n*m : 2\n")).toEqual([
      { message: "a mapping key must be a string or a number, not a mapping or a list", line: 2, column: 1 }
    ])
  })

  it("a problem inside an aliased value is located in the anchored node", () => {
    const target = '  target: { adapter: simulated, selector: { copy: &l { team: "bad value!" } } }'
    const e = failure(
      parseRolloutSpec(
        `apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nspec:\n${target}\n  artifact: { image: r.io/a:2 }\n  strategy: { rolling: { batchSize: 1 } }\nmetadata:\n  name: a\n  labels: *l\n`
      )
    )
    expect(e.problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ["metadata.labels.team", 4, target.indexOf("team") + 1]
    ])
  })

  it("ordinary anchors and aliases still work (a shared probe, an aliased key)", () => {
    const r = parseRolloutSpec(`apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: &n agent, labels: { &k team: *n } }
spec:
  target: { adapter: simulated, selector: { *k : platform } }
  artifact: { image: r.io/agent:2 }
  strategy: { rolling: { batchSize: &size 10% , maxUnavailable: *size } }
`)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success.metadata.labels).toEqual({ team: "agent" })
    expect(r.success.spec.target.selector).toEqual({ team: "platform" })
  })
})

describe("every problem has a location", () => {
  type Path = ReadonlyArray<string | number>
  const pathsOf = (value: unknown, at: Path = []): Array<Path> => {
    if (typeof value !== "object" || value === null) return []
    const entries: Array<[string | number, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value)
    return entries.flatMap(([k, v]) => [[...at, k], ...pathsOf(v, [...at, k])])
  }

  test.prop(
    [
      arbSpecDocument,
      fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 2 }))), {
        minLength: 1,
        maxLength: 5
      }),
      fc.boolean()
    ],
    { numRuns }
  )("corrupted documents written as YAML or JSON: each problem has source, line and column", (doc, edits, flow) => {
    const corrupted = structuredClone(doc) as Record<string, unknown>
    for (const [pick, value] of edits) {
      const paths = pathsOf(corrupted)
      const path = paths[pick % paths.length]
      if (path === undefined) break
      let parent = corrupted as Record<string | number, unknown>
      for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>
      const key = path[path.length - 1]!
      // undefined: an unknown field beside the picked one; else a replaced value.
      if (value === undefined && !Array.isArray(parent)) parent[`zz${key}`] = 1
      else parent[key] = value ?? null
    }
    const text = flow ? JSON.stringify(corrupted, null, 1) : stringify(corrupted)
    const r = parseRolloutSpec(text, { source: "doc.yaml" })
    if (Result.isSuccess(r)) return
    for (const p of r.failure.problems) {
      expect(p.source).toBe("doc.yaml")
      expect(p.line).toBeGreaterThanOrEqual(1)
      expect(p.column).toBeGreaterThanOrEqual(1)
    }
  })
})

describe("JSON syntax errors are located", () => {
  const at = (text: string) => {
    const p = failure(parseRolloutSpec(text, { format: "json" })).problems[0]
    return [p?.message, p?.line, p?.column]
  }

  it("including the errors V8 gives no position for: an unexpected token, the end of the input", () => {
    expect(at("[1,,2]")).toEqual(["JSON syntax error: Unexpected token ','", 1, 4])
    expect(at('{\n  "a": tru}')).toEqual(["JSON syntax error: Unexpected token '}'", 2, 11])
    expect(at('{\n  "a": [1,\n')).toEqual(["JSON syntax error: Unexpected end of JSON input", 3, 1])
    expect(at("[1]x")).toEqual(["JSON syntax error: Unexpected non-whitespace character after JSON", 1, 4])
    expect(at('{"a": -}')).toEqual(["JSON syntax error: No number after minus sign", 1, 8])
  })

  it("an unexpected token at the end of a ~1 MB document", () => {
    const body = Array.from({ length: 60_000 }, (_, i) => `  "l${i}": "v${i}",\n`).join("")
    expect(at(`{\n${body}  "x": [1,,2]\n}`)).toEqual(["JSON syntax error: Unexpected token ','", 60_002, 11])
  })

  test.prop([fc.jsonValue({ maxDepth: 3 }), fc.nat(), fc.constantFrom(",", "]", "}", ":", "x", '"', "-", "\n")], {
    numRuns
  })("a character inserted into JSON: the problem has a line and column inside the text", (value, pick, char) => {
    const json = JSON.stringify(value, null, 1)
    const i = pick % (json.length + 1)
    const text = json.slice(0, i) + char + json.slice(i)
    const r = parseRolloutSpec(text, { format: "json" })
    if (Result.isSuccess(r)) return
    const lines = text.split("\n")
    for (const p of r.failure.problems) {
      expect(p.line).toBeGreaterThanOrEqual(1)
      expect(p.line).toBeLessThanOrEqual(lines.length)
      expect(p.column).toBeGreaterThanOrEqual(1)
      expect(p.column).toBeLessThanOrEqual((lines[(p.line ?? 1) - 1]?.length ?? 0) + 1)
    }
  })
})
