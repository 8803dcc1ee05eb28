import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, expect, it } from "@effect/vitest"
import { type PolicyDecision, PolicyEngine, type PolicyGate, policyGates } from "@sluice/core"
import { Effect, Exit } from "effect"
import { type BundleSource, EngineRule, loadBundle, makeEvaluator, PolicyEngineLive } from "../../src/index.js"
import { bundle } from "../helpers.js"
import { request, workload } from "./requests.js"

const tmp = () => mkdtempSync(join(tmpdir(), "sluice-failclosed-"))

const evaluate = (
  sources: ReadonlyArray<BundleSource>,
  req = request(),
  options: Parameters<typeof PolicyEngineLive.layerFromBundles>[1] = {}
) =>
  Effect.gen(function* () {
    const exit = yield* PolicyEngine.use((e) => e.evaluate(req)).pipe(
      Effect.provide(PolicyEngineLive.layerFromBundles(sources, options)),
      Effect.exit
    )
    // Fail closed means: the effect itself never fails, the decision denies.
    assert.isTrue(Exit.isSuccess(exit), "evaluate must never fail")
    return (exit as Exit.Success<PolicyDecision>).value
  })

/** The engine's own denial: the same violation once per gate asked (every gate by default). */
const expectDeny = (
  d: PolicyDecision,
  rule: string,
  message: RegExp,
  gates: ReadonlyArray<PolicyGate> = policyGates
) => {
  expect(d.allow).toBe(false)
  expect(d.deny.map((v) => v.gate)).toEqual(gates)
  for (const v of d.deny) {
    expect(v.rule).toBe(rule)
    expect(v.message).toMatch(message)
  }
}

describe("fail closed", () => {
  it.effect("denies with engine/bundle-load when the bundle file is missing", () =>
    Effect.gen(function* () {
      const d = yield* evaluate([bundle("does-not-exist.tar.gz")])
      expectDeny(d, EngineRule.bundleLoad, /missing.*does-not-exist\.tar\.gz does not exist/)
    })
  )

  it.effect("denies when a bundle directory has no policy.wasm", () =>
    Effect.gen(function* () {
      const dir = tmp()
      writeFileSync(join(dir, "data.json"), "{}")
      expectDeny(yield* evaluate([dir]), EngineRule.bundleLoad, /missing.*no policy\.wasm/)
    })
  )

  it.effect("denies when a bundle archive has no policy.wasm (a Rego-only bundle)", () =>
    Effect.gen(function* () {
      const dir = tmp()
      mkdirSync(join(dir, "src"))
      writeFileSync(join(dir, "src", "p.rego"), "package sluice\n")
      const tgz = join(dir, "rego-only.tar.gz")
      execFileSync("tar", ["-czf", tgz, "-C", join(dir, "src"), "p.rego"])
      expectDeny(yield* evaluate([tgz]), EngineRule.bundleLoad, /no policy\.wasm.*opa build -t wasm/)
    })
  )

  it.effect("denies when the bundle is not an archive at all", () =>
    Effect.gen(function* () {
      const file = join(tmp(), "garbage.tar.gz")
      writeFileSync(file, "this is not a tarball, not even gzip".repeat(30))
      expectDeny(yield* evaluate([file]), EngineRule.bundleLoad, /unreadable.*not a bundle archive/)
    })
  )

  it.effect("denies on corrupt Wasm bytes", () =>
    Effect.gen(function* () {
      expectDeny(yield* evaluate([bundle("corrupt.wasm")]), EngineRule.bundleLoad, /invalid-wasm.*invalid Wasm/)
      const d = yield* evaluate([{ wasm: new Uint8Array([1, 2, 3, 4, 5]), name: "junk" }])
      expectDeny(d, EngineRule.bundleLoad, /invalid-wasm/)
      expect((d.deny[0] as { bundle?: string }).bundle).toBe("junk")
    })
  )

  it.effect("denies on a valid Wasm module that is not an OPA policy", () =>
    Effect.gen(function* () {
      // The smallest valid module: magic + version, no sections.
      const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])
      expectDeny(yield* evaluate([{ wasm: empty }]), EngineRule.bundleLoad, /invalid-wasm.*not an OPA Wasm policy/)
    })
  )

  it.effect("denies when the policy lacks the sluice/decision entrypoint, naming the ones it has", () =>
    Effect.gen(function* () {
      const d = yield* evaluate([bundle("wrong-entrypoint.tar.gz")])
      expectDeny(d, EngineRule.bundleLoad, /entrypoint.*no entrypoint "sluice\/decision" \(it has: other\/decision\)/)
    })
  )

  it.effect("denies with engine/eval-error when the Rego hits a runtime conflict (Wasm abort)", () =>
    Effect.gen(function* () {
      const d = yield* evaluate([bundle("conflict.tar.gz")], request(workload({}), "t"))
      // Without the trap flag the policy allows...
      expect(d.allow).toBe(true)
      const trapped = makeEvaluator([yield* loadBundle(bundle("conflict.tar.gz"))])
      expectDeny(trapped.evaluateInput({ trap: true }), EngineRule.evalError, /var assignment conflict/)
    })
  )

  it.effect("replaces a trapped instance: the next evaluation works again", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([yield* loadBundle(bundle("conflict.tar.gz"))])
      for (let i = 0; i < 3; i++) {
        expect(ev.evaluateInput({ trap: true }).allow).toBe(false)
        expect(ev.evaluateInput({ trap: false })).toEqual({ allow: true, deny: [], warn: [] })
      }
    })
  )

  it.effect("denies with engine/eval-error when the policy calls a builtin the Wasm runtime lacks", () =>
    Effect.gen(function* () {
      expectDeny(
        yield* evaluate([bundle("builtin-missing.tar.gz")]),
        EngineRule.evalError,
        /not implemented.*http\.send/
      )
    })
  )

  it.effect("denies with engine/out-of-memory when the policy exhausts its Wasm memory", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([
        yield* loadBundle(bundle("oom.tar.gz"), { memory: { initialPages: 5, maximumPages: 64 } })
      ])
      expect(ev.evaluateInput({ explode: 10 }).allow).toBe(false) // count(big) > 0: the policy itself denies
      expectDeny(ev.evaluateInput({ explode: 50_000_000 }), EngineRule.outOfMemory, /out of memory/)
      // ...and recovers with a fresh instance.
      expect(ev.evaluateInput({})).toEqual({ allow: true, deny: [], warn: [] })
    })
  )

  it.effect("denies with engine/out-of-memory when the input alone exceeds the memory limit", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([
        yield* loadBundle(bundle("basic.tar.gz"), { memory: { initialPages: 5, maximumPages: 40 } })
      ])
      const huge = { workload: { containers: [] }, padding: "x".repeat(4 * 1024 * 1024) }
      expectDeny(ev.evaluateInput(huge), EngineRule.outOfMemory, /memory/i)
      expect(ev.evaluateInput({ workload: { containers: [] } }).allow).toBe(true)
    })
  )

  it.effect("denies with engine/malformed-decision when the policy returns a non-decision shape", () =>
    Effect.gen(function* () {
      const d = yield* evaluate([bundle("non-decision.tar.gz")])
      expectDeny(d, EngineRule.malformedDecision, /not a decision/)
      expect(d.deny[0]?.message).toMatch(/\["allow"\]/)
      expect(d.deny[0]?.message).toMatch(/\["warn"\]/)
    })
  )

  it.effect("denies with engine/undefined-decision when the decision is undefined for the input", () =>
    Effect.gen(function* () {
      expectDeny(yield* evaluate([bundle("undefined.tar.gz")]), EngineRule.undefinedDecision, /undefined/)
      const ev = makeEvaluator([yield* loadBundle(bundle("undefined.tar.gz"))])
      expect(ev.evaluateInput({ defined: true }).allow).toBe(true)
    })
  )

  it.effect("adds engine/unexplained-deny when a policy denies without a reason", () =>
    Effect.gen(function* () {
      expectDeny(
        yield* evaluate([bundle("unexplained.tar.gz")]),
        EngineRule.unexplainedDeny,
        /allow=false without any deny/
      )
    })
  )

  it.effect("denies with engine/invalid-input when the workload cannot be normalized", () =>
    Effect.gen(function* () {
      const d = yield* evaluate(
        [bundle("basic.tar.gz")],
        request({
          source: "kubernetes",
          object: { kind: "Deployment", metadata: { name: "x" }, spec: { template: {} } }
        })
      )
      expectDeny(d, EngineRule.invalidInput, /invalid Deployment.*\["spec"\]\["template"\]\["spec"\]/s)
    })
  )

  it.effect("denies with engine/invalid-input when the raw object is not JSON-serializable", () =>
    Effect.gen(function* () {
      const object = {
        kind: "Pod",
        metadata: { name: "p", uid: 10n },
        spec: { containers: [{ name: "c", image: "i:1" }] }
      }
      expectDeny(
        yield* evaluate([bundle("basic.tar.gz")], request({ source: "kubernetes", object })),
        EngineRule.invalidInput,
        /serializ/
      )
    })
  )

  it.effect("denies when the user's data file is invalid or not an object", () =>
    Effect.gen(function* () {
      const dir = tmp()
      writeFileSync(join(dir, "bad.json"), "{ not json")
      expectDeny(
        yield* evaluate([{ path: bundle("basic.tar.gz"), data: join(dir, "bad.json") }]),
        EngineRule.bundleLoad,
        /invalid-data.*not valid JSON/
      )
      expectDeny(
        yield* evaluate([{ path: bundle("basic.tar.gz"), data: [1, 2] }]),
        EngineRule.bundleLoad,
        /must be a JSON object/
      )
      expectDeny(
        yield* evaluate([{ path: bundle("basic.tar.gz"), data: join(dir, "missing.yaml") }]),
        EngineRule.bundleLoad,
        /missing.*missing\.yaml does not exist/
      )
    })
  )

  it.effect("denies when no bundle is configured", () =>
    Effect.gen(function* () {
      expectDeny(yield* evaluate([]), EngineRule.noBundles, /no policy bundle/)
    })
  )

  it.effect("an engine failure denies exactly the gates the request asks about", () =>
    Effect.gen(function* () {
      expectDeny(yield* evaluate([], request(workload(), "t", ["scan"])), EngineRule.noBundles, /no policy bundle/, [
        "scan"
      ])
      expectDeny(
        yield* evaluate([bundle("non-decision.tar.gz")], request(workload(), "t", ["policy", "signature"])),
        EngineRule.malformedDecision,
        /not a decision/,
        ["policy", "signature"]
      )
    })
  )

  it.effect("one broken bundle denies the merged decision; the healthy bundle's findings are kept", () =>
    Effect.gen(function* () {
      const d = yield* evaluate(
        [bundle("second.tar.gz"), bundle("missing.tar.gz")],
        request(workload({}, { hostNetwork: true }))
      )
      expect(d.allow).toBe(false)
      expect(d.deny.map((v) => [(v as { bundle?: string }).bundle, v.rule, v.gate])).toEqual([
        ["second", "second/host-network", "policy"],
        ["missing", EngineRule.bundleLoad, "policy"],
        ["missing", EngineRule.bundleLoad, "scan"],
        ["missing", EngineRule.bundleLoad, "signature"]
      ])
      expect(d.warn.map((v) => v.rule)).toEqual(["second/now"])
    })
  )

  it.effect("reports load failures as typed errors when loading directly", () =>
    Effect.gen(function* () {
      const e = yield* loadBundle(bundle("wrong-entrypoint.tar.gz")).pipe(Effect.flip)
      expect(e._tag).toBe("BundleLoadError")
      expect(e.reason).toBe("entrypoint")
      const wasm = new Uint8Array(readFileSync(bundle("corrupt.wasm")))
      expect((yield* loadBundle({ wasm }).pipe(Effect.flip)).reason).toBe("invalid-wasm")
    })
  )
})
