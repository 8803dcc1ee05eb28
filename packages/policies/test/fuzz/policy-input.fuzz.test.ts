import { fc, test } from "@fast-check/vitest"
import { type PolicyGate, policyGates, type WorkloadSource } from "@sluice/core"
import { Effect, Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  applyTextEdit,
  arbPlacedMutations,
  arbTextEdit,
  assertNoPrototypePollution,
  FUZZ_TIMEOUT_MS,
  FuzzCounter,
  fuzzRuns,
  hostileValue,
  mutate,
  put
} from "../../../core/test/fuzz/mutate.js"
import {
  builtinBundleDir,
  type EngineDecision,
  loadBundle,
  makeEvaluator,
  NormalizeError,
  normalizeDocker,
  normalizeKubernetes,
  normalizeNormalized,
  type PolicyEvaluator
} from "../../src/index.js"
import { arbitraries } from "../../src/testing/index.js"

// Fuzzing what reaches the policy engine: complete policy inputs (`evaluateInput`, what
// `sluice policy eval` feeds it from a file), workload sources (`evaluateRequest`: a Kubernetes
// object or a Docker inspect as an adapter or a user hands it over) and the normalizers behind
// them, all against the real built-in Wasm bundle. Valid documents from the package's own
// arbitraries, mutated (see core/test/fuzz/mutate.ts). The engine never throws, its decision is
// well formed, an error is a deny of every gate asked with an `engine/*` rule, and the input
// checks the bundle promises (input-validation.rego) hold for whatever the input is.

const counter = new FuzzCounter("policy inputs")
afterAll(() => console.log(counter.summary()))

let evaluator: PolicyEvaluator
beforeAll(async () => {
  evaluator = makeEvaluator([await Effect.runPromise(loadBundle(builtinBundleDir))])
})

const JSON_SNIPPETS = ['"', "\\u", "\\ud800", ",", ":", "{", "[", "]", "}", "1e999", "-", "NaN", "\u0000", "null"]

const arbGates = fc.option(fc.subarray([...policyGates], { minLength: 1 }), { nil: undefined })

/** The shape every decision has, whatever the input. */
const checkDecision = (d: EngineDecision, gates: ReadonlyArray<PolicyGate> | undefined, context: () => string) => {
  const asked = gates === undefined || gates.length === 0 ? policyGates : gates
  const fail = (why: string) => {
    throw new Error(`${why}\n  decision: ${JSON.stringify(d).slice(0, 1500)}\n  ${context()}`)
  }
  if (typeof d.allow !== "boolean") fail("allow is not a boolean")
  // allow ⇔ no deny: an allow with a deny, or a deny without a reason, would be a fail-open or an unexplained block.
  if (d.allow !== (d.deny.length === 0)) fail("allow disagrees with the deny list")
  for (const v of [...d.deny, ...d.warn]) {
    if (typeof v.rule !== "string" || v.rule === "" || typeof v.message !== "string")
      fail(`malformed violation ${JSON.stringify(v)}`)
    if (!policyGates.includes(v.gate)) fail(`violation with an unknown gate ${JSON.stringify(v)}`)
  }
  // An engine error denies every gate asked (so no gate can be switched off around it).
  const engine = d.deny.filter((v) => v.rule.startsWith("engine/"))
  if (engine.length > 0) {
    if (d.allow) fail("an engine error that allows")
    for (const gate of asked) if (!engine.some((v) => v.gate === gate)) fail(`engine error not denying gate ${gate}`)
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/**
 * What input-validation.rego promises to deny with `input/invalid`, modelled independently: the
 * other policies only look at what is there, so these holes must close the policy gate.
 */
const structurallyInvalid = (input: unknown): string | undefined => {
  if (!isObject(input) || !isObject(input.workload)) return "no workload object"
  const w = input.workload
  if (!["kubernetes", "docker", "simulated"].includes(w.platform as string)) return "unknown platform"
  if (!Array.isArray(w.containers) || w.containers.length === 0) return "no containers"
  if (!isObject(w.pod)) return "pod is not an object"
  for (const c of w.containers) {
    if (!isObject(c)) return "a container is not an object"
    if (typeof c.image !== "string" || c.image === "") return "a container without an image"
    if (!["container", "init", "ephemeral"].includes(c.type as string)) return "a container of unknown type"
  }
  return undefined
}

/** The deny input-validation.rego gives when there is no workload: the engine lost an input that had one. */
const lostInput = (d: EngineDecision) => d.deny.some((v) => v.message === "input.workload is missing or not an object")

/** A short rendering of a value for failure messages (values can be megabytes). */
const show = (v: unknown) => {
  try {
    const s = JSON.stringify(v) ?? String(v)
    return s.length > 1500 ? `${s.slice(0, 1500)}… (${s.length} chars)` : s
  } catch (e) {
    return `<unserializable: ${String(e)}>`
  }
}

/**
 * A NormalizeError message names where the workload is wrong (effect Schema: `at ["spec"]["containers"][0]`),
 * unless what is wrong is the document itself (`rootIsObject` false).
 */
const checkNormalizeError = (e: unknown, rootIsObject: boolean, context: () => string) => {
  expect(e).toBeInstanceOf(NormalizeError)
  const message = (e as NormalizeError).message
  if (rootIsObject && !/\bat \[|\bkind\b|metadata\.name|Name or Id/.test(message))
    throw new Error(`rejection names no location: ${message}\n${context()}`)
}

/** Fields of a WorkloadSource the valid requests may lack (so a mutation can add them, null or wrong). */
const REQUEST_KEYS = ["source", "namespace", "labels", "name", "image", "container", "object", "workload"]

describe("fuzz: policy inputs against the built-in bundle", { timeout: FUZZ_TIMEOUT_MS }, () => {
  test.prop([arbitraries.policyInput, arbPlacedMutations(3), arbGates], { numRuns: fuzzRuns(8) })(
    "evaluateInput: a well-formed decision; a structurally invalid input is denied with input/invalid",
    (input, mutations, gates) => {
      counter.hit("evaluateInput")
      const mutated = mutate(input, mutations).value
      const d = evaluator.evaluateInput(mutated, gates)
      counter.outcome(
        `evaluateInput ${d.allow ? "allow" : d.deny.some((v) => v.rule.startsWith("engine/")) ? "engine-deny" : "policy-deny"}`
      )
      assertNoPrototypePollution()
      checkDecision(d, gates, () => `input: ${show(mutated)}`)
      if (isObject(mutated) && isObject(mutated.workload) && lostInput(d))
        throw new Error(`the engine evaluated without the input it was given\n${show(mutated)}`)
      const invalid = structurallyInvalid(mutated)
      const policyAsked = gates === undefined || gates.includes("policy")
      if (invalid !== undefined && policyAsked) {
        const rules = d.deny.filter((v) => v.gate === "policy").map((v) => v.rule)
        if (!rules.some((r) => r === "input/invalid" || r.startsWith("engine/")))
          throw new Error(
            `${invalid}, but the policy gate did not deny it as input/invalid: ${rules.join(", ")}\n${show(mutated)}`
          )
      }
    }
  )

  test.prop(
    [
      arbitraries.policyRequest,
      arbPlacedMutations(3, REQUEST_KEYS),
      fc.option(fc.tuple(fc.constantFrom(...REQUEST_KEYS), hostileValue), { nil: undefined }),
      arbGates,
      arbitraries.evaluationTime
    ],
    { numRuns: fuzzRuns(8) }
  )(
    "evaluateRequest: raw workloads are normalized or denied as engine/invalid-input, never thrown",
    (request, mutations, top, gates, now) => {
      counter.hit("evaluateRequest")
      const workload = mutate(request.workload, mutations).value as WorkloadSource
      // A field of the source itself (its `namespace`, `image`, ...) set to anything: a random path
      // rarely lands on the top level.
      if (top !== undefined && isObject(workload)) put(workload, top[0], top[1])
      const evaluation = evaluator.evaluateRequest({ workload, scan: request.scan, ...(gates ? { gates } : {}) }, now)
      assertNoPrototypePollution()
      counter.outcome(
        `evaluateRequest ${evaluation.input === undefined ? "not-normalized" : evaluation.decision.allow ? "allow" : "deny"}`
      )
      checkDecision(evaluation.decision, gates, () => `workload: ${show(workload)}`)
      expect(evaluation.inputSha256).toMatch(/^[0-9a-f]{64}$/)
      if (evaluation.input === undefined) {
        // Not normalized: the only possible decision is the engine's invalid-input deny.
        expect(evaluation.decision.allow).toBe(false)
        expect(new Set(evaluation.decision.deny.map((v) => v.rule))).toEqual(new Set(["engine/invalid-input"]))
      }
    }
  )

  test.prop([arbitraries.policyInput, arbGates, fc.array(arbTextEdit(JSON_SNIPPETS), { minLength: 1, maxLength: 3 })], {
    numRuns: fuzzRuns(3)
  })("evaluateJson: broken JSON text is an engine/* deny of every gate asked", (input, gates, edits) => {
    counter.hit("evaluateJson")
    let text = JSON.stringify(input)
    for (const e of edits) text = applyTextEdit(text, e)
    const d = evaluator.evaluateJson(text, gates)
    checkDecision(d, gates, () => `text: ${show(text)}`)
    let parses = true
    try {
      const parsed: unknown = JSON.parse(text)
      if (isObject(parsed) && isObject(parsed.workload) && lostInput(d))
        throw new Error(`the engine evaluated without the input it was given\n${show(text)}`)
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e
      parses = false
    }
    // Text that is not JSON cannot be judged by any policy: the engine itself must deny it.
    if (!parses && !d.deny.some((v) => v.rule.startsWith("engine/")))
      throw new Error(`invalid JSON evaluated without an engine error: ${JSON.stringify(d.deny)}\n${show(text)}`)
  })

  // Regressions found by this file, kept as plain cases so they run whatever the seed.
  it("regression: evaluateRequest with a workload that is no WorkloadSource denies instead of throwing", () => {
    for (const workload of [[], null, {}, { source: "nomad" }, "docker"]) {
      const evaluation = evaluator.evaluateRequest({ workload: workload as never, scan: undefined }, 0)
      expect(evaluation.decision.allow).toBe(false)
      expect(evaluation.decision.deny.map((v) => [v.rule, v.gate])).toEqual(
        policyGates.map((gate) => ["engine/invalid-input", gate])
      )
      expect(evaluation.decision.deny[0]!.message).toMatch(/not a workload source/)
    }
  })

  it("regression: a Kubernetes source whose namespace is null or malformed denies instead of throwing", () => {
    const object = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "agent" },
      spec: { containers: [{ name: "agent", image: "registry.sluice.dev/agent:1" }] }
    }
    for (const namespace of [null, 5, [], { name: "ns" }, { name: "ns", labels: { a: 1 } }]) {
      const workload = { source: "kubernetes", object, namespace } as never
      const evaluation = evaluator.evaluateRequest({ workload, scan: undefined }, 0)
      expect(evaluation.decision.deny.map((v) => v.rule)).toEqual(policyGates.map(() => "engine/invalid-input"))
      expect(evaluation.decision.deny[0]!.message).toMatch(/invalid namespace/)
    }
    // A well-formed namespace still evaluates.
    const ok = evaluator.evaluateRequest(
      { workload: { source: "kubernetes", object, namespace: { name: "ns", labels: {} } }, scan: undefined },
      0
    )
    expect(ok.input).toBeDefined()
  })

  it("regression: evaluateJson denies text that is not JSON on every gate asked (opa-wasm would drop it)", () => {
    for (const gates of [undefined, ["signature"] as const, ["scan", "policy"] as const]) {
      const d = evaluator.evaluateJson('\uFFFD{"workload": {}}', gates)
      expect(d.allow).toBe(false)
      expect(d.deny.map((v) => [v.rule, v.gate])).toEqual(
        (gates ?? policyGates).map((gate) => ["engine/invalid-input", gate])
      )
    }
  })

  test.prop(
    [
      fc.oneof(
        arbitraries.kubernetesWorkload().map((object) => ({ source: "kubernetes" as const, doc: object as unknown })),
        arbitraries.dockerWorkload.map((w) => ({ source: "docker" as const, doc: w as unknown })),
        arbitraries.policyInput.map((i) => ({ source: "normalized" as const, doc: i.workload as unknown }))
      ),
      arbPlacedMutations(3)
    ],
    { numRuns: fuzzRuns(9) }
  )(
    "normalizers: a NormalizeError naming where, or a workload the input schema accepts",
    ({ source, doc }, mutations) => {
      counter.hit(`normalize-${source}`)
      const mutated = mutate(doc, mutations).value
      const context = () => `${source}: ${show(mutated)}`
      const result =
        source === "kubernetes"
          ? normalizeKubernetes(mutated)
          : source === "docker"
            ? normalizeDocker(
                isObject(mutated) ? mutated.container : mutated,
                isObject(mutated) ? mutated.image : undefined
              )
            : normalizeNormalized(mutated)
      assertNoPrototypePollution()
      if (Result.isFailure(result)) {
        // The document the error is about: for Docker, the container inspect or the image inspect.
        const root =
          source !== "docker" || !isObject(mutated)
            ? mutated
            : result.failure.message.startsWith("invalid image inspect")
              ? mutated.image
              : mutated.container
        checkNormalizeError(result.failure, isObject(root), context)
        return
      }
      // What a normalizer produces is a valid normalized workload (the shape the Rego is written for),
      // and normalizing it again changes nothing.
      const again = normalizeNormalized(JSON.parse(JSON.stringify(result.success)))
      if (Result.isFailure(again))
        throw new Error(`normalizer output is not a valid normalized workload: ${again.failure.message}\n${context()}`)
      expect(again.success).toEqual(JSON.parse(JSON.stringify(result.success)))
    }
  )
})
