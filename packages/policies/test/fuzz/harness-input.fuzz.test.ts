import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import { Cause, Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  arbPlacedMutations,
  assertNoPrototypePollution,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  jsonText,
  mutate
} from "../../../core/test/fuzz/mutate.js"
import { applyYamlEdit, arbYamlEdit, toYaml } from "../../../core/test/fuzz/yamlEdits.js"
import {
  builtinBundleDir,
  HarnessInputError,
  loadBundle,
  makeEvaluator,
  type PolicyEvaluator,
  readInputFile
} from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"

// Fuzzing the files a policy author hands `sluice policy eval -i` / `sluice policy test` (the
// harness's readInputFile: JSON or YAML, a Kubernetes manifest, a Docker inspect, a normalized
// workload or a complete input), then the engine on what was read. Valid documents, mutated as
// values (core/test/fuzz/mutate.ts) and as YAML text (yamlEdits.ts: alias bombs, undefined
// aliases, duplicated keys, tags, ...). A file is read or refused with a HarnessInputError, never a
// defect; what is read is decided without an exception.

const counter = new FuzzCounter("policy harness input files")
afterAll(() => console.log(counter.summary()))

let evaluator: PolicyEvaluator
let dir: string
beforeAll(async () => {
  evaluator = makeEvaluator([await Effect.runPromise(loadBundle(builtinBundleDir))])
  dir = mkdtempSync(join(tmpdir(), "sluice-fuzz-harness-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Reads `file` and evaluates what it holds; fails the case on a defect. */
const readAndDecide = async (file: string) => {
  const exit = await Effect.runPromiseExit(readInputFile(file))
  assertNoPrototypePollution()
  if (Exit.isFailure(exit)) {
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "None") throw new Error(`readInputFile died instead of failing: ${Cause.pretty(exit.cause)}`)
    expect(error.value).toBeInstanceOf(HarnessInputError)
    counter.outcome(error.value.message.split(":")[0]!)
    return
  }
  counter.outcome(`read ${exit.value.kind}`)
  const d =
    exit.value.kind === "input"
      ? evaluator.evaluateInput(exit.value.input)
      : evaluator.evaluateRequest({ workload: exit.value.source, scan: undefined }, 0).decision
  expect(d.allow).toBe(d.deny.length === 0)
}

const arbDocument = fc.oneof(
  arbitraries.kubernetesWorkload().map((o) => o as unknown),
  arbitraries.dockerWorkload.map((w) => w.container),
  arbitraries.policyInput.map((i) => i as unknown),
  arbitraries.policyInput.map((i) => i.workload as unknown)
)

describe("fuzz: policy harness input files", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbDocument, arbPlacedMutations(2), fc.array(arbYamlEdit, { maxLength: 3 })], {
    numRuns: fuzzRuns(1)
  })("YAML files: read or refused with a HarnessInputError, never a defect", async (doc, mutations, edits) => {
    counter.hit("yaml")
    let text = toYaml(mutate(doc, mutations).value)
    for (const e of edits) text = applyYamlEdit(text, e)
    const file = join(dir, "input.yaml")
    writeFileSync(file, text)
    await readAndDecide(file)
  })

  test.prop([arbDocument, arbPlacedMutations(2)], { numRuns: fuzzRuns(0.5) })(
    "JSON files: read or refused with a HarnessInputError, never a defect",
    async (doc, mutations) => {
      counter.hit("json")
      const file = join(dir, "input.json")
      writeFileSync(file, jsonText(mutate(doc, mutations).value))
      await readAndDecide(file)
    }
  )

  // Regressions found by this file, kept as plain cases so they run whatever the seed.
  it("regression: an alias bomb or an undefined alias is a HarnessInputError, not a thrown ReferenceError", async () => {
    const bomb = Array.from(
      { length: 9 },
      (_, i) => `b${i}: &b${i} [${Array.from({ length: 9 }, () => (i === 0 ? "lol" : `*b${i - 1}`)).join(", ")}]`
    ).join("\n")
    for (const [name, text] of [
      ["bomb.yaml", `${bomb}\nworkload: {}\n`],
      ["alias.yaml", "workload: *nowhere\n"]
    ] as const) {
      const file = join(dir, name)
      writeFileSync(file, text)
      const exit = await Effect.runPromiseExit(readInputFile(file))
      if (Exit.isSuccess(exit)) throw new Error(`${name} was read: ${JSON.stringify(exit.value)}`)
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "None") throw new Error(`${name}: died: ${Cause.pretty(exit.cause)}`)
      expect(error.value.message).toMatch(/^invalid YAML: .*alias/)
    }
  })
})
