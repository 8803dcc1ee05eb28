import {
  formatDuration,
  type PolicyDecision,
  PolicyGate,
  type PolicyRequest,
  policyGates,
  sha256Hex,
  type Violation,
  violationFields
} from "@sluice/core"
import { Effect, Result, Schema } from "effect"
import { buildPolicyInput } from "../normalize/index.js"
import type { LoadedBundle } from "./bundle.js"
import type { BundleLoadError } from "./errors.js"
import type { BundleOutcome } from "./evaluationWorker.js"
import { type CallResult, PolicyWorker } from "./policyWorker.js"
import { describeThrown } from "./wasm.js"

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
  unexplainedDeny: "engine/unexplained-deny",
  /** The evaluation did not finish within the limit (or the evaluation worker did not start). */
  timeout: "engine/timeout"
} as const

/** How long one evaluation (every bundle, one input) may take by default. */
export const DEFAULT_EVALUATION_TIMEOUT_MS = 5_000
/** How long the evaluation worker may take to start and instantiate every bundle by default. */
export const DEFAULT_WORKER_START_TIMEOUT_MS = 10_000

export interface EvaluatorOptions {
  /**
   * How long one evaluation may take, in milliseconds (default {@link DEFAULT_EVALUATION_TIMEOUT_MS}):
   * past it the evaluation is stopped and denies with `engine/timeout`.
   */
  readonly evaluationTimeoutMs?: number
  /** How long the evaluation worker may take to start (default {@link DEFAULT_WORKER_START_TIMEOUT_MS}). */
  readonly workerStartTimeoutMs?: number
}

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

/** One bundle's decision from what its evaluation gave. */
const decideBundle = (
  bundle: LoadedBundle,
  outcome: BundleOutcome,
  gates: ReadonlyArray<PolicyGate>
): EngineDecision => {
  const name = bundle.name
  if (outcome._tag === "thrown") return denyOnly(name, outcome.rule, outcome.message, gates)
  const rs = decodeResultSet(outcome.raw)
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
      `the policy's ${bundle.entrypoint} is undefined for this input`,
      gates
    )
  }
  const decoded = decodeDecision(first.result)
  if (Result.isFailure(decoded)) {
    return denyOnly(
      name,
      EngineRule.malformedDecision,
      `${bundle.entrypoint} is not a decision {allow, deny, warn} with a known gate per entry: ${decoded.failure.message}`,
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

/** The denial for an evaluation the worker did not answer. */
const unanswered = (
  result: Exclude<CallResult, { _tag: "answered" }>,
  gates: ReadonlyArray<PolicyGate>
): EngineDecision => ({ ...unansweredDenial(result, gates), undecided: true })
const unansweredDenial = (result: Exclude<CallResult, { _tag: "answered" }>, gates: ReadonlyArray<PolicyGate>) => {
  if (result._tag === "crashed") {
    return denyOnly(
      "sluice",
      result.outOfMemory ? EngineRule.outOfMemory : EngineRule.evalError,
      `the policy evaluation worker failed${result.outOfMemory ? " (out of memory)" : ""}: ${result.message}`,
      gates
    )
  }
  const limit = formatDuration(result.limitMs)
  return result.phase === "start"
    ? denyOnly("sluice", EngineRule.timeout, `the policy evaluation worker did not start within ${limit}`, gates)
    : denyOnly(
        result.bundle ?? "sluice",
        EngineRule.timeout,
        `the evaluation of policy bundle ${result.bundle ?? "?"} did not finish within ${limit} and was stopped`,
        gates
      )
}

/** Merges per-bundle decisions: allow only if every bundle allows; deny and warn concatenated. */
export const mergeDecisions = (decisions: ReadonlyArray<EngineDecision>): EngineDecision => {
  if (decisions.length === 1 && decisions[0] !== undefined) return decisions[0]
  return {
    allow: decisions.length > 0 && decisions.every((d) => d.allow),
    deny: decisions.flatMap((d) => d.deny),
    warn: decisions.flatMap((d) => d.warn),
    ...(decisions.some((d) => d.undecided === true) ? { undecided: true } : {})
  }
}

export interface RequestEvaluation {
  readonly decision: EngineDecision
  readonly inputSha256: string
  /** The policy input; `undefined` when the workload could not be normalized. */
  readonly input: unknown
}

/**
 * The core of the engine: one reusable Wasm instance per bundle, evaluated in order in a worker
 * thread, each evaluation within a time limit (past it the worker is stopped, the evaluation denies
 * with `engine/timeout`, and the next one starts a fresh worker). The plain methods block the
 * calling thread until the answer (at most the limit); the `…Effect` ones let the event loop run.
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
  /** {@link evaluateJson} without blocking the calling thread. */
  readonly evaluateJsonEffect: (json: string, gates?: ReadonlyArray<PolicyGate>) => Effect.Effect<EngineDecision>
  /** {@link evaluateRequest} without blocking the calling thread. */
  readonly evaluateRequestEffect: (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ) => Effect.Effect<RequestEvaluation>
  /** The time limit of one evaluation, in milliseconds. */
  readonly evaluationTimeoutMs: number
  /**
   * Diagnostics: Wasm linear memory in use and instances created by the current worker (summed over
   * bundles), and how many workers were started (one more after each evaluation stopped).
   */
  readonly stats: () => {
    readonly wasmMemoryBytes: number
    readonly instancesCreated: number
    readonly workersStarted: number
  }
  /**
   * Starts the evaluation worker now rather than at the first evaluation (so timings of
   * evaluations leave its start out); bounded like any start.
   */
  readonly start: Effect.Effect<void>
  /** Stops the evaluation worker (a later evaluation starts another). */
  readonly close: () => void
}

const safeStringify = (value: unknown): Result.Result<string, string> => {
  try {
    const json = JSON.stringify(value)
    return json === undefined ? Result.fail("input is not JSON-serializable") : Result.succeed(json)
  } catch (e) {
    return Result.fail(`input is not JSON-serializable: ${describeThrown(e)}`)
  }
}

type Prepared =
  | { readonly _tag: "decided"; readonly evaluation: RequestEvaluation }
  | {
      readonly _tag: "evaluate"
      readonly input: ArrayBuffer
      readonly gates: ReadonlyArray<PolicyGate>
      readonly inputSha256: string
      readonly evaluated: unknown
    }

export const makeEvaluator = (
  loaded: ReadonlyArray<LoadedBundle | BundleLoadError>,
  options: EvaluatorOptions = {}
): PolicyEvaluator => {
  const infos: ReadonlyArray<BundleInfo> = loaded.map((b) =>
    "module" in b
      ? { name: b.name, revision: b.revision, location: b.location, status: "ready" as const }
      : { name: b.bundle, revision: "unavailable", location: b.bundle, status: "broken" as const, error: b.message }
  )
  const bundleRevision = infos.map((b) => b.revision).join(",")
  const ready = loaded.filter((b): b is LoadedBundle => "module" in b)
  const evaluationTimeoutMs = options.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS
  const worker =
    ready.length === 0
      ? undefined
      : new PolicyWorker(
          ready.map((b) => ({
            name: b.name,
            module: b.module,
            data: b.data,
            entrypoint: b.entrypoint,
            memory: b.memory
          })),
          {
            timeoutMs: evaluationTimeoutMs,
            startTimeoutMs: options.workerStartTimeoutMs ?? DEFAULT_WORKER_START_TIMEOUT_MS
          }
        )

  /** Every bundle's decision, merged, from the worker's answer (`undefined`: nothing was asked). */
  const decide = (result: CallResult | undefined, gates: ReadonlyArray<PolicyGate>): EngineDecision => {
    if (loaded.length === 0) return denyOnly("sluice", EngineRule.noBundles, "no policy bundle is configured", gates)
    const broken = (b: BundleLoadError) =>
      denyOnly(b.bundle, EngineRule.bundleLoad, `bundle failed to load (${b.reason}): ${b.message}`, gates)
    if (result !== undefined && result._tag !== "answered") {
      return mergeDecisions([unanswered(result, gates), ...loaded.flatMap((b) => ("module" in b ? [] : [broken(b)]))])
    }
    const reply = result?.reply
    if (reply !== undefined && (reply._tag !== "evaluated" || reply.outcomes.length !== ready.length)) {
      const why = reply._tag === "failed" ? reply.message : `unexpected answer ${reply._tag}`
      return denyOnly("sluice", EngineRule.evalError, `the policy evaluation worker failed: ${why}`, gates)
    }
    let next = 0
    return mergeDecisions(
      loaded.map((b) => {
        if (!("module" in b)) return broken(b)
        const outcome = reply?.outcomes[next++]
        return outcome === undefined
          ? denyOnly(b.name, EngineRule.evalError, "the bundle was not evaluated", gates)
          : decideBundle(b, outcome, gates)
      })
    )
  }

  const evaluateSync = (input: ArrayBuffer, gates: ReadonlyArray<PolicyGate>) =>
    decide(worker?.callSync({ _tag: "evaluate", input }), gates)
  const evaluateAsync = (input: ArrayBuffer, gates: ReadonlyArray<PolicyGate>) =>
    worker === undefined
      ? Effect.succeed(decide(undefined, gates))
      : Effect.promise(() => worker.call({ _tag: "evaluate", input })).pipe(Effect.map((r) => decide(r, gates)))

  const prepareJson = (json: string, gates: ReadonlyArray<PolicyGate>): EngineDecision | ArrayBuffer => {
    // opa-wasm evaluates text its parser refuses as if there were no input at all (policies that
    // only deny what they see would allow it), so text that is not JSON is denied here.
    try {
      JSON.parse(json)
    } catch (e) {
      return denyOnly("sluice", EngineRule.invalidInput, `input is not JSON: ${describeThrown(e)}`, gates)
    }
    return toArrayBuffer(json)
  }

  const evaluateJson = (json: string, gates?: ReadonlyArray<PolicyGate>) => {
    const prepared = prepareJson(json, gatesOf(gates))
    return prepared instanceof ArrayBuffer ? evaluateSync(prepared, gatesOf(gates)) : prepared
  }

  const evaluateJsonEffect = (json: string, gates?: ReadonlyArray<PolicyGate>) => {
    const prepared = prepareJson(json, gatesOf(gates))
    return prepared instanceof ArrayBuffer ? evaluateAsync(prepared, gatesOf(gates)) : Effect.succeed(prepared)
  }

  const evaluateInput = (input: unknown, gates?: ReadonlyArray<PolicyGate>): EngineDecision => {
    const json = safeStringify(input)
    return Result.isFailure(json)
      ? denyOnly("sluice", EngineRule.invalidInput, json.failure, gatesOf(gates))
      : evaluateSync(toArrayBuffer(json.success), gatesOf(gates))
  }

  const prepareRequest = (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ): Prepared => {
    const gates = gatesOf(request.gates)
    const input = buildPolicyInput(request, epochMillis)
    if (Result.isFailure(input)) {
      const raw = safeStringify(request.workload)
      return {
        _tag: "decided",
        evaluation: {
          decision: denyOnly("sluice", EngineRule.invalidInput, input.failure.message, gates),
          inputSha256: sha256Hex(Result.isSuccess(raw) ? raw.success : ""),
          input: undefined
        }
      }
    }
    const json = safeStringify(input.success)
    if (Result.isFailure(json)) {
      return {
        _tag: "decided",
        evaluation: {
          decision: denyOnly("sluice", EngineRule.invalidInput, json.failure, gates),
          inputSha256: sha256Hex(""),
          input: input.success
        }
      }
    }
    return {
      _tag: "evaluate",
      input: toArrayBuffer(json.success),
      gates,
      inputSha256: sha256Hex(json.success),
      evaluated: input.success
    }
  }

  const evaluateRequest = (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ): RequestEvaluation => {
    const prepared = prepareRequest(request, epochMillis)
    if (prepared._tag === "decided") return prepared.evaluation
    return {
      decision: evaluateSync(prepared.input, prepared.gates),
      inputSha256: prepared.inputSha256,
      input: prepared.evaluated
    }
  }

  const evaluateRequestEffect = (
    request: Pick<PolicyRequest, "workload" | "scan" | "gates" | "params">,
    epochMillis: number
  ): Effect.Effect<RequestEvaluation> => {
    const prepared = prepareRequest(request, epochMillis)
    if (prepared._tag === "decided") return Effect.succeed(prepared.evaluation)
    return evaluateAsync(prepared.input, prepared.gates).pipe(
      Effect.map((decision) => ({ decision, inputSha256: prepared.inputSha256, input: prepared.evaluated }))
    )
  }

  const stats = () => {
    const answer = worker?.callSync({ _tag: "stats" })
    const reply = answer?._tag === "answered" ? answer.reply : undefined
    return reply?._tag === "stats"
      ? {
          wasmMemoryBytes: reply.wasmMemoryBytes,
          instancesCreated: reply.instancesCreated,
          workersStarted: worker?.workersStarted ?? 0
        }
      : { wasmMemoryBytes: 0, instancesCreated: 0, workersStarted: worker?.workersStarted ?? 0 }
  }

  return {
    bundles: infos,
    bundleRevision,
    evaluateInput,
    evaluateJson,
    evaluateRequest,
    evaluateJsonEffect,
    evaluateRequestEffect,
    evaluationTimeoutMs,
    stats,
    start:
      worker === undefined ? Effect.void : Effect.promise(() => worker.call({ _tag: "stats" })).pipe(Effect.asVoid),
    close: () => worker?.close()
  }
}
