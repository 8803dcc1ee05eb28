import {
  type PolicyDecision,
  PolicyGate,
  type PolicyRequest,
  policyGates,
  sha256Hex,
  type Violation,
  violationFields
} from "@sluice/core"
import { Result, Schema } from "effect"
import { buildPolicyInput } from "../normalize/index.js"
import type { LoadedBundle } from "./bundle.js"
import type { BundleLoadError } from "./errors.js"
import { classifyThrown, describeThrown, type Instance, instantiate } from "./wasm.js"

/** A violation as the engine reports it: tagged with the bundle that produced it. */
export type EngineViolation = Violation & { readonly bundle: string }

export interface EngineDecision extends PolicyDecision {
  readonly deny: ReadonlyArray<EngineViolation>
  readonly warn: ReadonlyArray<EngineViolation>
}

export interface BundleInfo {
  readonly name: string
  readonly revision: string
  readonly location: string
  /** `broken` bundles deny every evaluation with `error`. */
  readonly status: "ready" | "broken"
  readonly error?: string
}

/** Rule ids of the engine's own (fail-closed) violations. */
export const EngineRule = {
  noBundles: "engine/no-bundles",
  bundleLoad: "engine/bundle-load",
  invalidInput: "engine/invalid-input",
  evalError: "engine/eval-error",
  outOfMemory: "engine/out-of-memory",
  undefinedDecision: "engine/undefined-decision",
  malformedDecision: "engine/malformed-decision",
  unexplainedDeny: "engine/unexplained-deny"
} as const

const ResultSet = Schema.Array(Schema.Struct({ result: Schema.Unknown }))
const decodeResultSet = Schema.decodeUnknownResult(ResultSet)

/**
 * A violation as a bundle's `sluice/decision` gives it: its gate is optional and defaults to
 * `policy` (the built-in `decision.rego` always sets it); any other value than a gate's name makes
 * the decision malformed, so it denies.
 */
const BundleViolation = Schema.Struct({ ...violationFields, gate: Schema.optionalKey(PolicyGate) })
type BundleViolation = typeof BundleViolation.Type
const BundleDecision = Schema.Struct({
  allow: Schema.Boolean,
  deny: Schema.Array(BundleViolation),
  warn: Schema.Array(BundleViolation)
})
const decodeDecision = Schema.decodeUnknownResult(BundleDecision, { errors: "all" })

/** The engine's own denial: one violation per gate asked, so a failure fails every gate closed. */
const denyOnly = (bundle: string, rule: string, message: string, gates: ReadonlyArray<PolicyGate>): EngineDecision => ({
  allow: false,
  deny: gates.map((gate) => ({ rule, message, bundle, gate })),
  warn: []
})

const tag = (bundle: string, v: BundleViolation): EngineViolation => {
  const gate = v.gate ?? "policy"
  return v.container !== undefined
    ? { rule: v.rule, message: v.message, container: v.container, bundle, gate }
    : { rule: v.rule, message: v.message, bundle, gate }
}

/** The gates asked about: the request's, else every gate; never empty (an empty list means all). */
const gatesOf = (gates: ReadonlyArray<PolicyGate> | undefined): ReadonlyArray<PolicyGate> =>
  gates === undefined || gates.length === 0 ? policyGates : gates

const encoder = new TextEncoder()

/** The exact `ArrayBuffer` opa-wasm expects for pre-serialized input. */
const toArrayBuffer = (json: string): ArrayBuffer => {
  const u8 = encoder.encode(json)
  return u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength
    ? (u8.buffer as ArrayBuffer)
    : (u8.slice().buffer as ArrayBuffer)
}

class BundleSlot {
  private instance: Instance | undefined
  /** How many Wasm instances this slot has created (1 unless evaluations trapped). */
  instances = 0
  constructor(readonly bundle: LoadedBundle) {}

  memoryBytes(): number {
    return this.instance?.policy.mem.buffer.byteLength ?? 0
  }

  evaluate(input: ArrayBuffer, gates: ReadonlyArray<PolicyGate>): EngineDecision {
    const name = this.bundle.name
    let raw: unknown
    try {
      if (this.instance === undefined) {
        this.instance = instantiate(this.bundle)
        this.instances++
      }
      raw = this.instance.policy.evaluate(input, this.instance.entrypointId)
    } catch (e) {
      // A trapped instance may be left in any state: the next evaluation gets a fresh one.
      this.instance = undefined
      const kind = classifyThrown(e)
      return denyOnly(
        name,
        kind,
        `policy evaluation failed${kind === "engine/out-of-memory" ? " (out of memory)" : ""}: ${describeThrown(e)}`,
        gates
      )
    }
    const rs = decodeResultSet(raw)
    if (Result.isFailure(rs)) {
      return denyOnly(
        name,
        EngineRule.malformedDecision,
        `unexpected result set from the policy: ${rs.failure.message}`,
        gates
      )
    }
    const first = rs.success[0]
    if (first === undefined) {
      return denyOnly(
        name,
        EngineRule.undefinedDecision,
        `the policy's ${this.bundle.entrypoint} is undefined for this input`,
        gates
      )
    }
    const decoded = decodeDecision(first.result)
    if (Result.isFailure(decoded)) {
      return denyOnly(
        name,
        EngineRule.malformedDecision,
        `${this.bundle.entrypoint} is not a decision {allow, deny, warn} with a known gate per entry: ${decoded.failure.message}`,
        gates
      )
    }
    const d = decoded.success
    const deny = d.deny.map((v) => tag(name, v))
    if (!d.allow && deny.length === 0) {
      for (const gate of gates) {
        deny.push({
          rule: EngineRule.unexplainedDeny,
          message: "the policy returned allow=false without any deny entry",
          bundle: name,
          gate
        })
      }
    }
    return { allow: d.allow && deny.length === 0, deny, warn: d.warn.map((v) => tag(name, v)) }
  }
}

type Slot = BundleSlot | { readonly broken: BundleLoadError }

/** Merges per-bundle decisions: allow only if every bundle allows; deny and warn concatenated. */
export const mergeDecisions = (decisions: ReadonlyArray<EngineDecision>): EngineDecision => {
  if (decisions.length === 1 && decisions[0] !== undefined) return decisions[0]
  return {
    allow: decisions.length > 0 && decisions.every((d) => d.allow),
    deny: decisions.flatMap((d) => d.deny),
    warn: decisions.flatMap((d) => d.warn)
  }
}

export interface RequestEvaluation {
  readonly decision: EngineDecision
  readonly inputSha256: string
  /** The policy input; `undefined` when the workload could not be normalized. */
  readonly input: unknown
}

/**
 * The synchronous core of the engine: one reusable Wasm instance per bundle, evaluated in order.
 * Never throws: every failure is a deny whose violation (rule `engine/...`) says why, once per gate
 * asked (`gates`; default: every gate).
 */
export interface PolicyEvaluator {
  readonly bundles: ReadonlyArray<BundleInfo>
  /** Revisions of all bundles, comma-separated, in bundle order. */
  readonly bundleRevision: string
  /** Evaluates a complete `input` document. */
  readonly evaluateInput: (input: unknown, gates?: ReadonlyArray<PolicyGate>) => EngineDecision
  /** Evaluates `input` given as JSON text (the fast path: no re-serialization). */
  readonly evaluateJson: (json: string, gates?: ReadonlyArray<PolicyGate>) => EngineDecision
  /** Normalizes the request's workload, builds the input at `epochMillis`, evaluates it. */
  readonly evaluateRequest: (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ) => RequestEvaluation
  /** Diagnostics: Wasm linear memory in use and instances created so far, summed over bundles. */
  readonly stats: () => { readonly wasmMemoryBytes: number; readonly instancesCreated: number }
}

const safeStringify = (value: unknown): Result.Result<string, string> => {
  try {
    const json = JSON.stringify(value)
    return json === undefined ? Result.fail("input is not JSON-serializable") : Result.succeed(json)
  } catch (e) {
    return Result.fail(`input is not JSON-serializable: ${describeThrown(e)}`)
  }
}

export const makeEvaluator = (loaded: ReadonlyArray<LoadedBundle | BundleLoadError>): PolicyEvaluator => {
  const slots: ReadonlyArray<Slot> = loaded.map((b) => ("module" in b ? new BundleSlot(b) : { broken: b }))
  const infos: ReadonlyArray<BundleInfo> = loaded.map((b) =>
    "module" in b
      ? { name: b.name, revision: b.revision, location: b.location, status: "ready" as const }
      : { name: b.bundle, revision: "unavailable", location: b.bundle, status: "broken" as const, error: b.message }
  )
  const bundleRevision = infos.map((b) => b.revision).join(",")

  const evaluateBuffer = (buf: ArrayBuffer, gates: ReadonlyArray<PolicyGate>): EngineDecision => {
    if (slots.length === 0) return denyOnly("sluice", EngineRule.noBundles, "no policy bundle is configured", gates)
    return mergeDecisions(
      slots.map((slot) =>
        slot instanceof BundleSlot
          ? slot.evaluate(buf, gates)
          : denyOnly(
              slot.broken.bundle,
              EngineRule.bundleLoad,
              `bundle failed to load (${slot.broken.reason}): ${slot.broken.message}`,
              gates
            )
      )
    )
  }

  const evaluateJson = (json: string, gates?: ReadonlyArray<PolicyGate>) => {
    // opa-wasm evaluates text its parser refuses as if there were no input at all (policies that
    // only deny what they see would allow it), so text that is not JSON is denied here.
    try {
      JSON.parse(json)
    } catch (e) {
      return denyOnly("sluice", EngineRule.invalidInput, `input is not JSON: ${describeThrown(e)}`, gatesOf(gates))
    }
    return evaluateBuffer(toArrayBuffer(json), gatesOf(gates))
  }

  const evaluateInput = (input: unknown, gates?: ReadonlyArray<PolicyGate>): EngineDecision => {
    const json = safeStringify(input)
    return Result.isFailure(json)
      ? denyOnly("sluice", EngineRule.invalidInput, json.failure, gatesOf(gates))
      : evaluateBuffer(toArrayBuffer(json.success), gatesOf(gates))
  }

  const evaluateRequest = (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ): RequestEvaluation => {
    const gates = gatesOf(request.gates)
    const input = buildPolicyInput(request, epochMillis)
    if (Result.isFailure(input)) {
      const raw = safeStringify(request.workload)
      return {
        decision: denyOnly("sluice", EngineRule.invalidInput, input.failure.message, gates),
        inputSha256: sha256Hex(Result.isSuccess(raw) ? raw.success : ""),
        input: undefined
      }
    }
    const json = safeStringify(input.success)
    if (Result.isFailure(json)) {
      return {
        decision: denyOnly("sluice", EngineRule.invalidInput, json.failure, gates),
        inputSha256: sha256Hex(""),
        input: input.success
      }
    }
    return {
      decision: evaluateBuffer(toArrayBuffer(json.success), gates),
      inputSha256: sha256Hex(json.success),
      input: input.success
    }
  }

  const stats = () => {
    let wasmMemoryBytes = 0
    let instancesCreated = 0
    for (const slot of slots) {
      if (slot instanceof BundleSlot) {
        wasmMemoryBytes += slot.memoryBytes()
        instancesCreated += slot.instances
      }
    }
    return { wasmMemoryBytes, instancesCreated }
  }

  return { bundles: infos, bundleRevision, evaluateInput, evaluateJson, evaluateRequest, stats }
}
