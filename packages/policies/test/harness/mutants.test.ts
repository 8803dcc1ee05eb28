import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import {
  applyMutant,
  formatLines,
  generateMutants,
  listMutants,
  parseRego,
  runOpa,
  sampleMutants
} from "../../src/index.js"

const root = path.resolve(import.meta.dirname, "../../../..")
const opa = path.join(root, ".tools/bin/opa")
const BUILTIN = path.join(root, "packages/policies/policies")
const available = fs.existsSync(opa)
if (!available) {
  const message = `opa is not built (${opa}). Provision it with: bash scripts/opa/build-opa.sh`
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING the Rego mutant tests: ${message}\n`)
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-mutants-test-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

const SOURCE = `package sluice.policies.sample

deny contains {"rule": "sample/big", "message": concat("", ["container ", c.name, " is big"])} if {
	some c in input.workload.containers
	c.size >= 1000000000000000000000000
	not c.small == true
}

deny contains {"rule": "sample/any"} if {
	some c in input.workload.containers
	c.kind != "agent"
}

allow if every c in input.workload.containers {
	c.ok
}

limit := 3
`

const mutantsOf = async (source: string) => {
  const file = path.join(work, `m${Math.random().toString(36).slice(2)}.rego`)
  fs.writeFileSync(file, source)
  const parsed = await Effect.runPromise(parseRego(opa, file))
  return { file, parsed, mutants: generateMutants("sample.rego", parsed) }
}

describe.skipIf(!available)("Rego mutants from opa's AST", () => {
  it("generates each operator at the exact line, column and text, and leaves paths, keys and message text alone", async () => {
    const { mutants } = await mutantsOf(SOURCE)
    const described = mutants.map((m) => `${m.line}:${m.column} ${m.operator} ${m.original} => ${m.replacement}`)
    expect(described).toEqual([
      '3:24 change-constant "sample/big" => ""',
      "5:2 drop-condition c.size >= 1000000000000000000000000 => true",
      "5:9 negate-comparison >= => <",
      // 1e24 + 1 is 1e24 as a double: the mutant gets a digit more instead of being the same number.
      "5:12 change-constant 1000000000000000000000000 => 10000000000000000000000000",
      "6:2 drop-condition not c.small == true => true",
      "6:2 negate-condition not c.small == true => c.small == true",
      "6:14 negate-comparison == => !=",
      "6:17 change-constant true => false",
      '9:24 change-constant "sample/any" => ""',
      '10:2 some-to-every some c in input.workload.containers\n\tc.kind != "agent" => every c in input.workload.containers {\n\t\tc.kind != "agent"\n\t}',
      '11:2 drop-condition c.kind != "agent" => true',
      "11:9 negate-comparison != => ==",
      '11:12 change-constant "agent" => ""',
      "14:10 drop-condition every c in input.workload.containers {\n\tc.ok\n} => true",
      "14:10 every-to-some every c in input.workload.containers {\n\tc.ok\n} => some c in input.workload.containers\nc.ok",
      "15:2 drop-condition c.ok => true",
      "18:10 change-constant 3 => 4"
    ])
    // The first rule's head uses c, so no some-to-every there would ever compile: only rule 2's.
    expect(mutants.filter((m) => m.operator === "some-to-every").map((m) => m.line)).toEqual([10])
  })

  it("every mutant is its source with one edit, and the some/every swaps compile", async () => {
    const { file, parsed, mutants } = await mutantsOf(SOURCE)
    for (const m of mutants) {
      const mutated = applyMutant(parsed.source, m)
      const tail = parsed.source.length - m.end
      expect(mutated.subarray(0, m.start).equals(parsed.source.subarray(0, m.start))).toBe(true)
      expect(mutated.subarray(mutated.length - tail).equals(parsed.source.subarray(m.end))).toBe(true)
      expect(mutated.subarray(m.start, mutated.length - tail).toString("utf8")).toBe(m.replacement)
      expect(parsed.source.subarray(m.start, m.end).toString("utf8")).toBe(m.original)
    }
    for (const m of mutants.filter((x) => x.operator.includes("every") && x.line === 10)) {
      fs.writeFileSync(file, applyMutant(parsed.source, m))
      await Effect.runPromise(runOpa(opa, ["check", file]))
    }
  })

  it("mutants of the built-in policies are well-formed Rego (a sample of them parses)", async () => {
    const all = await Effect.runPromise(listMutants(opa, BUILTIN))
    expect(all.length).toBeGreaterThan(500)
    const operators = new Set(all.map((m) => m.operator))
    expect([...operators].sort()).toEqual([
      "change-constant",
      "drop-condition",
      "every-to-some",
      "negate-comparison",
      "negate-condition",
      "some-to-every"
    ])
    // A few of each operator, spread over the files.
    const sample = [...operators].flatMap((op) =>
      sampleMutants(
        all.filter((m) => m.operator === op),
        6
      )
    )
    for (const m of sample) {
      const source = fs.readFileSync(path.join(BUILTIN, m.file))
      const file = path.join(work, path.basename(m.file))
      fs.writeFileSync(file, applyMutant(source, m))
      const parsed = await Effect.runPromise(Effect.result(runOpa(opa, ["parse", file])))
      expect(parsed._tag, `${m.file}:${m.line} ${m.operator}: ${m.original} → ${m.replacement}`).toBe("Success")
    }
  }, 120_000)
})

describe("sampleMutants and formatLines", () => {
  it("spreads a bounded sample over the whole list, deterministically", () => {
    const list = Array.from({ length: 100 }, (_, i) => i)
    expect(sampleMutants(list, 4)).toEqual([0, 25, 50, 75])
    expect(sampleMutants(list, 4)).toEqual(sampleMutants(list, 4))
    expect(sampleMutants(list, 200)).toEqual(list)
  })

  it("writes line numbers as ranges", () => {
    expect(formatLines([3, 7, 8, 9, 12])).toBe("3, 7-9, 12")
    expect(formatLines([])).toBe("")
  })
})
