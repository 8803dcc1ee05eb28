import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fc, test } from "@fast-check/vitest"
import type { ScanReport } from "@sluice/core"
import { Effect, Exit, References, Result } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import {
  applyTextEdit,
  arbPlacedMutations,
  arbTextEdit,
  assertNoPrototypePollution,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  hostileValue,
  jsonText,
  jsonWithDuplicateKey,
  mutate,
  pathsOf
} from "../../../core/test/fuzz/mutate.js"
import {
  builtinBundleDir,
  INVALID_REPORT_ID,
  invalidReport,
  loadBundle,
  makeEvaluator,
  type PolicyEvaluator,
  parseTrivyReport,
  parseTrivyReportText,
  TrivyReportDirectory,
  TrivyReportError,
  trivyReportFileName
} from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"
import { fixture } from "../helpers.js"

// Fuzzing the Trivy report decoder (packages/policies/src/scan/trivy.ts): the reports are files
// anyone with write access to the reports directory can put there. Valid reports (the package's
// arbitrary, with digests, and the real fixtures) mutated as values, as JSON text (duplicated keys,
// truncation, broken UTF-8) and as bytes on disk. A report is decoded or refused with a
// TrivyReportError naming where it is wrong; a refused report fails the scan gate closed.

const counter = new FuzzCounter("trivy reports")
afterAll(() => console.log(counter.summary()))

const hex = fc.string({ unit: fc.constantFrom(..."0123456789abcdef"), minLength: 64, maxLength: 64 })

/** A valid report as `trivy image -f json` writes it, sometimes with the digests Sluice binds to. */
const arbReport: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.tuple(arbitraries.trivyReport(), fc.option(hex), fc.option(hex)).map(([r, repo, id]) => ({
      ...r,
      Metadata: {
        ...(r.Metadata as object),
        ...(repo !== null ? { RepoDigests: [`registry.sluice.dev/agent@sha256:${repo}`] } : {}),
        ...(id !== null ? { ImageID: `sha256:${id}` } : {})
      }
    }))
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      ...["clean-image.json", "registry.sluice.dev_agents_fleet-agent_4.2.0.json", "scratch-no-results.json"].map(
        (f) => JSON.parse(readFileSync(fixture(`trivy/${f}`), "utf8")) as Record<string, unknown>
      )
    )
  }
)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** What a decoded report must satisfy, or what a refusal must say. */
const checkParsed = (result: Result.Result<ScanReport, TrivyReportError>, json: unknown, fromText: boolean) => {
  assertNoPrototypePollution()
  counter.outcome(Result.isSuccess(result) ? "decoded" : "refused")
  if (Result.isFailure(result)) {
    const e = result.failure
    expect(e).toBeInstanceOf(TrivyReportError)
    // A refusal names where: the JSON syntax error, or the schema path (`at ["Results"][0]...`)
    // unless the document itself is not a report object.
    const located =
      /^invalid JSON: /.test(e.message) ||
      /\bat \[/.test(e.message) ||
      (!isObject(json) && /not a Trivy SchemaVersion 2 report/.test(e.message))
    if (!located) throw new Error(`refusal names no location: ${e.message}`)
    return
  }
  const report = result.success
  if (!fromText) expect(report.raw).toBe(json)
  const raw = report.raw as {
    ArtifactName: string
    Results?: Array<{ Vulnerabilities?: Array<unknown> | null }> | null
  }
  expect(report.image).toBe(raw.ArtifactName)
  // Every vulnerability of every result is one finding, with a known severity.
  const vulns = (raw.Results ?? []).reduce((n, r) => n + (r.Vulnerabilities?.length ?? 0), 0)
  expect(report.findings.length).toBe(vulns)
  for (const f of report.findings) expect(["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]).toContain(f.severity)
  for (const d of report.digests) expect(d).toMatch(/^sha256:[a-f0-9]{64}$/)
}

const JSON_SNIPPETS = ['"', "\\u", "\\ud800", ",", ":", "{", "[", "]", "}", "1e999", "-", "NaN", "\u0000", "\uFEFF"]

let evaluator: PolicyEvaluator
let dir: string
beforeAll(async () => {
  evaluator = makeEvaluator([await Effect.runPromise(loadBundle(builtinBundleDir))])
  dir = mkdtempSync(join(tmpdir(), "sluice-fuzz-trivy-"))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Text of a mutated report: plain JSON or with a duplicated key, then text edits. */
const arbReportText = fc
  .tuple(
    arbReport,
    arbPlacedMutations(2, ["SchemaVersion", "ArtifactName", "Results", "Vulnerabilities", "Severity", "digest"]),
    fc.option(fc.record({ pick: fc.nat(), value: hostileValue }), { nil: undefined }),
    fc.array(arbTextEdit(JSON_SNIPPETS), { maxLength: 2 })
  )
  .map(([report, mutations, dup, edits]) => {
    const mutated = mutate(report, mutations).value
    let text: string
    if (dup !== undefined) {
      const paths = pathsOf(mutated)
      text = jsonWithDuplicateKey(mutated, paths[dup.pick % paths.length]!, dup.value)
    } else text = jsonText(mutated)
    for (const e of edits) text = applyTextEdit(text, e)
    return text
  })

describe("fuzz: Trivy reports", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbReport, arbPlacedMutations(3, ["SchemaVersion", "ArtifactName", "Results", "digest", "Metadata"])], {
    numRuns: fuzzRuns(8)
  })("parsed documents: a ScanReport true to the document, or a TrivyReportError naming where", (report, mutations) => {
    counter.hit("parsed")
    const json = mutate(report, mutations).value
    checkParsed(parseTrivyReport(json, "report.json"), json, false)
  })

  test.prop([arbReportText], { numRuns: fuzzRuns(6) })(
    "JSON text: decoded or refused with a location, never thrown",
    (text) => {
      counter.hit("text")
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        json = undefined
      }
      checkParsed(parseTrivyReportText(text, "report.json"), json, true)
    }
  )

  test.prop([arbReportText, arbitraries.kubernetesWorkload(), arbitraries.evaluationTime], { numRuns: fuzzRuns(2) })(
    "scan gate: a report that does not decode fails the gate closed",
    (text, object, now) => {
      counter.hit("gate")
      const parsed = parseTrivyReportText(text, "report.json")
      const scan = Result.isSuccess(parsed)
        ? parsed.success
        : invalidReport("registry.sluice.dev/agent:1", parsed.failure)
      const d = evaluator.evaluateRequest(
        { workload: { source: "kubernetes", object }, scan, gates: ["scan"] },
        now
      ).decision
      // The engine reports every gate's violations (the core keeps the ones whose gate is on): the
      // scan gate's own must deny an unreadable report.
      if (Result.isFailure(parsed)) {
        expect(d.allow).toBe(false)
        expect(d.deny.some((v) => v.gate === "scan")).toBe(true)
      }
    }
  )

  test.prop([arbReportText, fc.array(fc.nat(), { maxLength: 3 })], { numRuns: fuzzRuns(1) })(
    "report files: bytes on disk (invalid UTF-8 included) become a report or the invalid-report marker, never a failure",
    async (text, flips) => {
      counter.hit("file")
      const image = "registry.sluice.dev/agent:1"
      const bytes = new TextEncoder().encode(text)
      // Raw byte damage, which a string cannot carry: the reader decodes the file itself.
      for (const f of flips) if (bytes.length > 0) bytes[f % bytes.length] = 0xff
      writeFileSync(join(dir, trivyReportFileName(image)), bytes)
      // The source logs a warning per unreadable report: not wanted a thousand times in the test output.
      const exit = await Effect.runPromiseExit(
        TrivyReportDirectory.make(dir).reportFor(image).pipe(Effect.provideService(References.MinimumLogLevel, "None"))
      )
      assertNoPrototypePollution()
      if (!Exit.isSuccess(exit)) throw new Error(`the report source failed: ${String(exit.cause)}`)
      const report = exit.value
      expect(report).toBeDefined()
      const direct = parseTrivyReportText(new TextDecoder().decode(bytes), "x")
      // A file that does not decode is never silently "no report" nor a clean one.
      if (Result.isFailure(direct)) expect(report!.findings.map((f) => f.id)).toEqual([INVALID_REPORT_ID])
    }
  )
})
