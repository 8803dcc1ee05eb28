import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { afterAll, describe, expect } from "vitest"
import { stringify } from "yaml"
import {
  decodeRolloutSpecLocated,
  encodeRolloutSpec,
  parseRolloutSpec,
  type RolloutSpec,
  SpecError
} from "../../src/spec/index.js"
import { arbSpecDocument } from "../spec/arbitraries.js"
import {
  anyCodeUnits,
  applyTextEdit,
  arbPlacedMutations,
  arbTextEdit,
  assertNoPrototypePollution,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  getAt,
  hostileValue,
  jsonText,
  jsonWithDuplicateKey,
  mutate,
  type PlacedMutation,
  pathLandsIn,
  pathsOf,
  related,
  type TextEdit
} from "./mutate.js"

// Fuzzing the Rollout spec reader (`parseRolloutSpec`, YAML and JSON text, and the decoder behind
// it) with valid documents made hostile: see mutate.ts for the value mutations; this file adds the
// YAML-only ones (duplicated keys, anchors and aliases, alias bombs, merge keys, tags, several
// documents). Whatever the text, the reader returns a SpecError whose problems each name a path or a
// line:column inside the text, or a spec that encodes again; it never throws, never reports an
// internal error (the catch-alls in parse.ts/decode.ts would hide a crash as one), and never
// touches Object.prototype.

const counter = new FuzzCounter("spec documents")
afterAll(() => console.log(counter.summary()))

/** A crash that a catch-all turned into a problem: still a defect. */
const INTERNAL = /internal error|cannot parse the document/

const lineCount = (text: string) => text.split(/\r\n|\r|\n/).length

/** The properties every outcome of the reader must have. */
const checkOutcome = (
  outcome: Result.Result<RolloutSpec, SpecError>,
  text: string | undefined,
  context: () => string
): ReadonlyArray<SpecError["problems"][number]> => {
  assertNoPrototypePollution()
  if (Result.isSuccess(outcome)) {
    // Accepted means representable: the spec encodes back to a document (what resume stores).
    const encoded = encodeRolloutSpec(outcome.success)
    if (Result.isFailure(encoded))
      throw new Error(`accepted but not encodable: ${encoded.failure.message}\n${context()}`)
    return []
  }
  const error = outcome.failure
  expect(error).toBeInstanceOf(SpecError)
  expect(error.problems.length).toBeGreaterThan(0)
  for (const p of error.problems) {
    if (typeof p.message !== "string" || p.message === "" || INTERNAL.test(p.message))
      throw new Error(`problem without a proper message: ${JSON.stringify(p)}\n${context()}`)
    // Every rejection names where: a path into the document, or a position in the text (syntax errors).
    const located = p.path !== "" || (p.line !== undefined && p.column !== undefined)
    if (!located) throw new Error(`problem names no path nor location: ${JSON.stringify(p)}\n${context()}`)
    if (p.line !== undefined && text !== undefined) {
      if (p.line < 1 || p.line > lineCount(text) || (p.column ?? 1) < 1)
        throw new Error(`location ${p.line}:${p.column} is outside the text (${lineCount(text)} lines)\n${context()}`)
    }
  }
  // Rendering the error (what the CLI prints) must not throw either.
  expect(typeof error.message).toBe("string")
  return error.problems
}

// ---------------------------------------------------------------------------------------------
// YAML text edits
// ---------------------------------------------------------------------------------------------

type YamlEdit =
  | { readonly op: "dupKey"; readonly line: number }
  | { readonly op: "protoKey"; readonly line: number; readonly key: string }
  | { readonly op: "aliasSwap"; readonly a: number; readonly b: number }
  | { readonly op: "undefinedAlias"; readonly line: number }
  | { readonly op: "selfAlias"; readonly line: number }
  | { readonly op: "aliasBomb"; readonly levels: number; readonly width: number }
  | { readonly op: "mergeKey"; readonly line: number }
  | { readonly op: "tag"; readonly line: number; readonly tag: string }
  | { readonly op: "deepBlock"; readonly line: number; readonly depth: number }
  | { readonly op: "multiDoc" }
  | { readonly op: "text"; readonly edit: TextEdit }

const YAML_SNIPPETS = [
  "\t",
  "\u0000",
  "\uFEFF",
  "\uD800",
  ": ",
  "- ",
  "? ",
  "{",
  "[",
  "}",
  "]",
  '"',
  "'",
  "#",
  "&a ",
  "*a",
  "!!",
  "%YAML 1.1\n",
  "%TAG ! tag:x,2000:\n",
  "---\n",
  "...\n",
  "\\",
  "\r",
  "\u2028",
  "\u0085",
  "|\n",
  ">-\n",
  "@",
  "`",
  "<<: ",
  "\n  ",
  "\n- ",
  " #",
  "0x",
  ".inf",
  "1e999"
]

const TAGS = [
  "!!binary aGVsbG8=",
  "!!set {a, b}",
  "!!omap [a: 1, b: 2]",
  "!!pairs [a: 1]",
  "!!timestamp 2001-12-14t21:59:43.10-05:00",
  "!custom value",
  "!!js/function 'function () {}'",
  "!!python/object:os.system ls",
  "!!float .nan",
  "!!int 0o17",
  "!!str 1",
  "!!map {}",
  "!!seq []",
  "!!null ''",
  "!<tag:yaml.org,2002:str> x",
  "!!bool yes"
]

const arbYamlEdit: fc.Arbitrary<YamlEdit> = fc.oneof(
  fc.record({ op: fc.constant("dupKey" as const), line: fc.nat() }),
  fc.record({
    op: fc.constant("protoKey" as const),
    line: fc.nat(),
    key: fc.constantFrom(
      "__proto__: {polluted: yes}",
      "constructor: {prototype: {polluted: yes}}",
      "prototype: {polluted: yes}",
      '"__proto__": [1]',
      "? __proto__\n"
    )
  }),
  fc.record({ op: fc.constant("aliasSwap" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant("undefinedAlias" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("selfAlias" as const), line: fc.nat() }),
  fc.record({
    op: fc.constant("aliasBomb" as const),
    levels: fc.integer({ min: 2, max: 12 }),
    width: fc.integer({ min: 2, max: 12 })
  }),
  fc.record({ op: fc.constant("mergeKey" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("tag" as const), line: fc.nat(), tag: fc.constantFrom(...TAGS) }),
  fc.record({ op: fc.constant("deepBlock" as const), line: fc.nat(), depth: fc.integer({ min: 50, max: 150 }) }),
  fc.constant({ op: "multiDoc" as const }),
  fc.record({ op: fc.constant("text" as const), edit: arbTextEdit(YAML_SNIPPETS) })
)

/** `indent`, optional `- `, key, optional inline value of a block-style line. */
const KEY_LINE = /^(\s*)(- )?([^\s:#'"&*!|>{}[\],][^:#]*?):(?: (.*))?$/

interface KeyLine {
  readonly index: number
  readonly column: number
  readonly key: string
  readonly value: string | undefined
}

const keyLines = (lines: ReadonlyArray<string>): Array<KeyLine> =>
  lines.flatMap((line, index) => {
    const m = KEY_LINE.exec(line)
    if (m === null) return []
    return [{ index, column: m[1]!.length + (m[2]?.length ?? 0), key: m[3]!, value: m[4] }]
  })

const applyYamlEdit = (text: string, e: YamlEdit): string => {
  if (e.op === "text") return applyTextEdit(text, e.edit)
  if (e.op === "multiDoc") return `${text}\n---\n${text}`
  if (e.op === "aliasBomb") {
    const items = (prev: string) => `[${Array.from({ length: e.width }, () => prev).join(", ")}]`
    const defs = Array.from(
      { length: e.levels },
      (_, i) => `zzbomb${i}: &b${i} ${items(i === 0 ? "lol" : `*b${i - 1}`)}`
    )
    return `${defs.join("\n")}\n${text}`
  }
  const lines = text.split("\n")
  const keys = keyLines(lines)
  if (keys.length === 0) return text
  const pick = (n: number) => keys[n % keys.length]!
  const pad = (n: number) => " ".repeat(n)
  const withValue = keys.filter((k) => k.value !== undefined && k.value !== "")
  switch (e.op) {
    case "dupKey": {
      const k = pick(e.line)
      lines.splice(k.index + 1, 0, `${pad(k.column)}${k.key}: 0`)
      break
    }
    case "protoKey": {
      const k = pick(e.line)
      lines.splice(k.index + 1, 0, `${pad(k.column)}${e.key}`)
      break
    }
    case "aliasSwap": {
      if (withValue.length === 0) return text
      const a = withValue[e.a % withValue.length]!
      const b = withValue[e.b % withValue.length]!
      lines[a.index] = lines[a.index]!.replace(/: (.*)$/, ": &x1 $1")
      lines[b.index] = lines[b.index]!.replace(/: (.*)$/, ": *x1")
      break
    }
    case "undefinedAlias": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: *nowhere`
      break
    }
    case "selfAlias": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: &self [*self]`
      break
    }
    case "mergeKey": {
      const k = pick(e.line)
      lines.unshift("zzmerge: &m {__proto__: {polluted: yes}, kind: Job, apiVersion: 7}")
      lines.splice(k.index + 2, 0, `${pad(k.column)}<<: *m`)
      break
    }
    case "tag": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: ${e.tag}`
      break
    }
    case "deepBlock": {
      // Nesting by indentation (block style), which the flow-style nesting of mutate.ts does not reach.
      const k = pick(e.line)
      const block = Array.from({ length: e.depth }, (_, i) => `${pad(k.column + 2 * (i + 1))}a${i}:`)
      lines[k.index] = lines[k.index]!.replace(/:(?: .*)?$/, ":")
      lines.splice(k.index + 1, 0, ...block)
      break
    }
  }
  return lines.join("\n")
}

const depthOf = (v: unknown, limit: number): number => {
  if (typeof v !== "object" || v === null || limit === 0) return 0
  let max = 0
  for (const child of Object.values(v)) max = Math.max(max, depthOf(child, limit - 1))
  return max + 1
}

/**
 * YAML text of any value: `yaml`'s block style, or JSON (flow style, which YAML reads) for a deep
 * value (block style indents each level further: a 1,000-deep value would be megabytes of spaces)
 * or one `yaml` cannot write. Deep block nesting has its own edit (`deepBlock`).
 */
const toYaml = (value: unknown): string => {
  if (depthOf(value, 40) >= 40) return jsonText(value)
  try {
    return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 }) ?? "null"
  } catch {
    return jsonText(value)
  }
}

const show = (text: string) => (text.length > 2000 ? `${text.slice(0, 2000)}… (${text.length} chars)` : text)

// ---------------------------------------------------------------------------------------------
// properties
// ---------------------------------------------------------------------------------------------

describe("fuzz: Rollout spec documents", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbSpecDocument, arbPlacedMutations(3), fc.array(arbYamlEdit, { maxLength: 3 })], {
    numRuns: fuzzRuns(8)
  })("YAML text: a SpecError with located problems or a valid spec, never an exception", (doc, mutations, edits) => {
    counter.hit("yaml")
    const mutated = mutate(doc, mutations).value
    let text = toYaml(mutated)
    for (const e of edits) text = applyYamlEdit(text, e)
    const outcome = parseRolloutSpec(text)
    counter.outcome(`yaml ${outcome._tag === "Success" ? "accepted" : "rejected"}`)
    checkOutcome(outcome, text, () => show(text))
  })

  test.prop(
    [
      arbSpecDocument,
      arbPlacedMutations(3),
      fc.option(fc.record({ pick: fc.nat(), value: hostileValue }), { nil: undefined }),
      fc.array(arbTextEdit(['"', "\\u", "\\ud800", ",", ":", "{", "[", "]", "}", "1e999", "-", "NaN", "\u0000"]), {
        maxLength: 2
      })
    ],
    { numRuns: fuzzRuns(4) }
  )(
    "JSON text: a SpecError with located problems or a valid spec, never an exception",
    (doc, mutations, dup, edits) => {
      counter.hit("json")
      const mutated = mutate(doc, mutations).value
      let text: string
      if (dup !== undefined) {
        const paths = pathsOf(mutated)
        text = jsonWithDuplicateKey(mutated, paths[dup.pick % paths.length]!, dup.value)
      } else {
        text = jsonText(mutated)
      }
      for (const e of edits) text = applyTextEdit(text, e)
      const outcome = parseRolloutSpec(text, { format: "json" })
      counter.outcome(`json ${outcome._tag === "Success" ? "accepted" : "rejected"}`)
      checkOutcome(outcome, text, () => show(text))
    }
  )

  test.prop([arbSpecDocument, arbPlacedMutations(3)], { numRuns: fuzzRuns(9) })(
    "parsed values: every problem's path lands in the document, and a type change is reported where it was made",
    (doc, mutations) => {
      counter.hit("object")
      const { value, touched } = mutate(doc, mutations)
      const located = decodeRolloutSpecLocated(value)
      counter.outcome(`object ${located._tag === "Success" ? "accepted" : "rejected"}`)
      assertNoPrototypePollution()
      if (Result.isSuccess(located)) {
        expect(Result.isSuccess(encodeRolloutSpec(located.success))).toBe(true)
        return
      }
      for (const { segments, problem } of located.failure) {
        expect(problem.message).not.toMatch(INTERNAL)
        // The path names a node of the document, or a missing field of one.
        if (!pathLandsIn(value, segments))
          throw new Error(`problem path ${problem.path} is not in the document: ${problem.message}`)
      }
      // One wrong-typed value: some problem is about it (its path, an ancestor, or a descendant).
      const [only] = mutations as [PlacedMutation]
      if (mutations.length === 1 && only.mutation.op === "replace") {
        const path = touched[0]!
        const before = getAt(doc, path)
        const kind = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v)
        if (kind(before) !== kind(only.mutation.value) && !located.failure.some((p) => related(p.segments, path)))
          throw new Error(
            `changed ${JSON.stringify(path)} to a ${kind(only.mutation.value)}; problems elsewhere: ${located.failure
              .map((p) => p.problem.path)
              .join(", ")}`
          )
      }
    }
  )

  test.prop(
    [
      arbSpecDocument,
      arbPlacedMutations(2),
      fc.array(
        fc
          .tuple(
            fc.array(
              fc.oneof(
                fc.constantFrom("__proto__", "constructor", "prototype", "spec", "metadata", "labels", "0", "[0]"),
                anyCodeUnits
              ),
              { minLength: 1, maxLength: 4 }
            ),
            fc.oneof(fc.constantFrom("yes", "null", "{polluted: yes}", "[1]", "1e999", ""), anyCodeUnits)
          )
          .map(([segs, v]) => `${segs.join(".")}=${v}`),
        { maxLength: 3 }
      )
    ],
    { numRuns: fuzzRuns(2) }
  )("overlays (--values, --set): hostile documents and paths are problems, never pollution", (doc, mutations, sets) => {
    counter.hit("overlay")
    const base = toYaml(doc)
    const values = toYaml(mutate(doc, mutations).value)
    const outcome = parseRolloutSpec(base, { values: [{ name: "values.yaml", text: values }], set: sets })
    assertNoPrototypePollution()
    if (Result.isFailure(outcome)) {
      for (const p of outcome.failure.problems) {
        expect(p.message).not.toMatch(INTERNAL)
        // An overlay's problem names its path, its location, or the overlay it came from.
        const located = p.path !== "" || p.line !== undefined || p.source !== undefined
        if (!located) throw new Error(`problem names no path, location nor source: ${JSON.stringify(p)}`)
      }
    } else {
      expect(Result.isSuccess(encodeRolloutSpec(outcome.success))).toBe(true)
    }
  })
})
