import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { afterAll, describe, expect } from "vitest"
import {
  decodeRolloutSpecLocated,
  encodeRolloutSpec,
  parseRolloutSpec,
  type RolloutSpec,
  SpecError
} from "../../src/spec/index.js"
import { arbSpecDocument } from "../spec/arbitraries.js"
import { applyYamlEdit, arbYamlEdit, toYaml } from "./yamlEdits.js"
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
  related
} from "./mutate.js"

// Fuzzing the Rollout spec reader (`parseRolloutSpec`, YAML and JSON text, and the decoder behind
// it) with valid documents made hostile: mutate.ts has the value mutations, yamlEdits.ts the
// YAML-only ones (duplicated keys, anchors and aliases, alias bombs, merge keys, tags, several
// documents). Whatever the text, the reader returns a SpecError whose problems each name a path or
// a line:column inside the text, or a spec that encodes again; it never throws, never reports an
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
