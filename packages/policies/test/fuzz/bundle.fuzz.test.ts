import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { fc, test } from "@fast-check/vitest"
import { policyGates, writeTar } from "@sluice/core"
import { Cause, Effect, Exit, Result } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { assertNoPrototypePollution, FUZZ_TIMEOUT_MS, FuzzCounter, fuzzRuns } from "../../../core/test/fuzz/mutate.js"
import {
  BundleLoadError,
  type BundleSource,
  builtinBundleDir,
  type EngineDecision,
  EngineRule,
  loadBundle,
  makeEvaluator
} from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"

// Corrupted policy bundles (packages/policies/src/engine/bundle.ts): the built-in bundle packed as
// `opa build` packs one (.tar.gz with policy.wasm, data.json, .manifest), then damaged at every
// layer: bytes of the gzip stream, of the tar inside it, of policy.wasm, of data.json and the
// manifest; flipped, truncated, cut out or inserted. Loading gives a bundle or a BundleLoadError
// with a known reason, never a defect; an engine built on a bundle that failed to load denies
// every gate with engine/bundle-load; one that loaded decides well-formed (a flipped byte can make
// a different valid policy: that is for signatures to catch, not the loader).

const counter = new FuzzCounter("corrupted bundles")
afterAll(() => console.log(counter.summary()))

const REASONS = new Set(["missing", "unreadable", "invalid-wasm", "entrypoint", "invalid-data"])

interface Parts {
  readonly wasm: Uint8Array
  readonly data: Uint8Array
  readonly manifest: Uint8Array
}

let parts: Parts
let dir: string
let sample: unknown
beforeAll(() => {
  const read = (f: string) => new Uint8Array(readFileSync(join(builtinBundleDir, f)))
  parts = { wasm: read("policy.wasm"), data: read("data.json"), manifest: read("manifest.json") }
  dir = mkdtempSync(join(tmpdir(), "sluice-fuzz-bundle-"))
  sample = fc.sample(arbitraries.policyInput, { numRuns: 1, seed: 7 })[0]
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type Damage =
  | { readonly op: "flip"; readonly at: number; readonly xor: number }
  | { readonly op: "truncate"; readonly keep: number }
  | { readonly op: "cut"; readonly at: number; readonly length: number }
  | { readonly op: "insert"; readonly at: number; readonly bytes: ReadonlyArray<number> }

/** Positions are fractions of the length (in millionths), so they land anywhere in any layer. */
const arbDamage: fc.Arbitrary<Damage> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("flip" as const),
      at: fc.nat(999_999),
      xor: fc.integer({ min: 1, max: 255 })
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), keep: fc.nat(999_999) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("cut" as const),
      at: fc.nat(999_999),
      length: fc.integer({ min: 1, max: 4096 })
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(999_999),
      bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 })
    })
  }
)

const damage = (bytes: Uint8Array, ds: ReadonlyArray<Damage>): Uint8Array => {
  let out = bytes.slice()
  for (const d of ds) {
    const at = Math.floor(((d.op === "truncate" ? d.keep : d.at) / 1_000_000) * out.length)
    switch (d.op) {
      case "flip":
        if (out.length > 0) out[at] = out[at]! ^ d.xor
        break
      case "truncate":
        out = out.slice(0, at)
        break
      case "cut":
        out = new Uint8Array([...out.subarray(0, at), ...out.subarray(at + d.length)])
        break
      case "insert":
        out = new Uint8Array([...out.subarray(0, at), ...d.bytes, ...out.subarray(at)])
        break
    }
  }
  return out
}

const tarOf = (p: Parts): Uint8Array => {
  const tar = writeTar([
    { path: "/.manifest", content: p.manifest },
    { path: "/data.json", content: p.data },
    { path: "/policy.wasm", content: p.wasm }
  ])
  if (Result.isFailure(tar)) throw new Error(`cannot pack the bundle: ${tar.failure.message}`)
  return tar.success
}

type Layer = "gzip" | "tar" | "wasm" | "data" | "manifest" | "wasm-in-memory"

/** The bundle source for damage at one layer (a file for the archive layers). */
const corrupted = (layer: Layer, ds: ReadonlyArray<Damage>, file: string): BundleSource => {
  switch (layer) {
    case "wasm-in-memory":
      return { wasm: damage(parts.wasm, ds), name: "fuzz" }
    case "gzip":
      writeFileSync(file, damage(gzipSync(tarOf(parts)), ds))
      return file
    case "tar":
      writeFileSync(file, gzipSync(damage(tarOf(parts), ds)))
      return file
    default: {
      const key = layer === "wasm" ? "wasm" : layer === "data" ? "data" : "manifest"
      writeFileSync(file, gzipSync(tarOf({ ...parts, [key]: damage(parts[key], ds) })))
      return file
    }
  }
}

const checkDecision = (d: EngineDecision) => {
  expect(typeof d.allow).toBe("boolean")
  expect(d.allow).toBe(d.deny.length === 0)
  if (d.deny.some((v) => v.rule.startsWith("engine/"))) expect(d.allow).toBe(false)
}

describe("fuzz: corrupted bundles", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop(
    [
      fc.constantFrom<Layer>("gzip", "tar", "tar", "wasm", "wasm", "wasm-in-memory", "data", "manifest"),
      fc.array(arbDamage, { minLength: 1, maxLength: 4 })
    ],
    // Each case that survives to the Wasm compiles a 290 KB module: the slowest family per case.
    { numRuns: fuzzRuns(1) }
  )("a corrupted bundle loads, or fails with a BundleLoadError and the engine denies every gate", async (layer, ds) => {
    counter.hit(layer)
    const exit = await Effect.runPromiseExit(loadBundle(corrupted(layer, ds, join(dir, "bundle.tar.gz"))))
    assertNoPrototypePollution()
    if (Exit.isFailure(exit)) {
      // A typed failure, never a defect (a throw inside the loader would be a Die).
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "None") throw new Error(`the loader died instead of failing: ${Cause.pretty(exit.cause)}`)
      expect(error.value).toBeInstanceOf(BundleLoadError)
      expect(REASONS.has(error.value.reason)).toBe(true)
      counter.outcome(error.value.reason)
      expect(error.value.message.length).toBeGreaterThan(0)
      const d = makeEvaluator([error.value]).evaluateInput(sample)
      expect(d.allow).toBe(false)
      expect(d.deny.map((v) => [v.rule, v.gate])).toEqual(policyGates.map((g) => [EngineRule.bundleLoad, g]))
      return
    }
    counter.outcome("loaded")
    checkDecision(makeEvaluator([exit.value]).evaluateInput(sample))
  })
})
