import { Context, Effect, Layer, Schema } from "effect"
import { AnalysisVerdict } from "../analysis/verdict.js"
import { PolicyDecision, violationFields } from "../policy/PolicyEngine.js"
import { SignatureVerdict } from "../policy/SignatureVerifier.js"

/**
 * The event stream's format version, carried by every event: a consumer (an audit log reader, a
 * dashboard) decodes with {@link RolloutEvent} and can tell a stream written by another version.
 */
export const EVENT_VERSION = 1

const Base = {
  v: Schema.Literal(EVENT_VERSION),
  rolloutId: Schema.String,
  /** Epoch milliseconds from Effect's Clock. */
  at: Schema.Number
}

/** A violation in a `gateDecided` event: the event names the gate. */
export const GateViolation = Schema.Struct({ ...violationFields, targetId: Schema.String })
export type GateViolation = typeof GateViolation.Type

const HealthStatus = Schema.Literals(["healthy", "progressing", "unhealthy"])
const Outcome = Schema.Literals(["completed", "blocked", "failed", "rolledBack", "aborted", "rollbackFailed"])

const event = <const T extends string, const F extends Schema.Struct.Fields>(type: T, fields: F) =>
  Schema.Struct({ type: Schema.Literal(type), ...Base, ...fields })

/** The typed stream behind the CLI's progress view, the audit log and metrics: one Schema union. */
export const RolloutEvent = Schema.Union([
  event("rolloutStarted", {
    image: Schema.String,
    adapter: Schema.String,
    targets: Schema.Number,
    upToDate: Schema.Number,
    waves: Schema.Array(Schema.Struct({ index: Schema.Number, kind: Schema.String, size: Schema.Number })),
    resumed: Schema.Boolean
  }),
  event("gateDecided", {
    gate: Schema.Literals(["policy", "scan", "signature", "analysis", "approval"]),
    wave: Schema.optionalKey(Schema.Number),
    allow: Schema.Boolean,
    violations: Schema.Array(GateViolation),
    warnings: Schema.Array(GateViolation),
    /**
     * The signature gate's pass: the digest verified and who signed it (the key's fingerprint).
     * Optional, so streams written before the gate existed still decode.
     */
    signature: Schema.optionalKey(SignatureVerdict),
    /** An analysis gate's verdict: the run's tally and the canary judgement, per metric. */
    analysis: Schema.optionalKey(AnalysisVerdict)
  }),
  /** The decision log: one entry per distinct workload evaluated. */
  event("policyDecision", {
    targetId: Schema.String,
    bundleRevision: Schema.String,
    /** sha256 of the request (the workload as it will run, and the scan report's image). */
    inputSha256: Schema.String,
    decision: PolicyDecision
  }),
  event("waveStarted", {
    wave: Schema.Number,
    targets: Schema.Number,
    byTopology: Schema.Record(Schema.String, Schema.Number)
  }),
  event("targetUpdating", {
    wave: Schema.Number,
    targetId: Schema.String,
    from: Schema.String,
    to: Schema.String,
    topology: Schema.optionalKey(Schema.String)
  }),
  event("targetApplied", { wave: Schema.Number, targetId: Schema.String }),
  event("healthChanged", {
    wave: Schema.Number,
    targetId: Schema.String,
    status: HealthStatus,
    reason: Schema.optionalKey(Schema.String),
    topology: Schema.optionalKey(Schema.String)
  }),
  event("targetFailed", { wave: Schema.Number, targetId: Schema.String, reason: Schema.String }),
  event("waveHealthy", { wave: Schema.Number }),
  event("awaitingApproval", { wave: Schema.Number }),
  event("paused", { wave: Schema.Number, reason: Schema.Literals(["operator", "step"]) }),
  event("resumed", { wave: Schema.Number }),
  event("rollbackStarted", { reason: Schema.String, targets: Schema.Number }),
  event("targetRolledBack", {
    targetId: Schema.String,
    to: Schema.String,
    ok: Schema.Boolean,
    reason: Schema.optionalKey(Schema.String)
  }),
  event("retrying", {
    operation: Schema.String,
    targetId: Schema.optionalKey(Schema.String),
    message: Schema.String
  }),
  /** The adapter's `conclude` ran after the outcome: what it restored or left alone, and why. */
  event("concluded", { ok: Schema.Boolean, notes: Schema.Array(Schema.String) }),
  event("finished", {
    outcome: Outcome,
    reason: Schema.optionalKey(Schema.String),
    updated: Schema.Number,
    rolledBack: Schema.Number,
    touched: Schema.Number,
    durationMs: Schema.Number
  })
])
export type RolloutEvent = typeof RolloutEvent.Type
export type RolloutEventType = RolloutEvent["type"]

/** An event without what the run adds to every one (version, rollout id, time). */
export type RolloutEventBody = RolloutEvent extends infer E
  ? E extends RolloutEvent
    ? Omit<E, "v" | "rolloutId" | "at">
    : never
  : never

/** The typed constructor every event is built with. */
export const makeRolloutEvent = (rolloutId: string, at: number, body: RolloutEventBody): RolloutEvent => ({
  v: EVENT_VERSION,
  rolloutId,
  at,
  ...body
})

/** Decodes one event strictly (unknown fields are errors): for consumers of a stored stream. */
export const decodeRolloutEvent = Schema.decodeUnknownSync(RolloutEvent, { onExcessProperty: "error" })

/** Where events go. The default drops them; the CLI prints them; embedders subscribe. */
export class EventSink extends Context.Service<
  EventSink,
  { readonly publish: (event: RolloutEvent) => Effect.Effect<void> }
>()("@sluice/core/events/EventSink") {
  static readonly none = Layer.succeed(EventSink, { publish: () => Effect.void })
  static readonly fromCallback = (f: (event: RolloutEvent) => void) =>
    Layer.succeed(EventSink, { publish: (event) => Effect.sync(() => f(event)) })
}
