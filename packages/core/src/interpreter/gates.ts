import { Effect } from "effect"
import { AdapterError, type TargetAdapter } from "../adapter/TargetAdapter.js"
import { withImage } from "../domain/render.js"
import type { Target, WorkloadSource } from "../domain/Target.js"
import type { GateViolation } from "../events/RolloutEvent.js"
import type { DeniedTarget } from "../machine/types.js"
import {
  type PolicyDecision,
  type PolicyEngine,
  type PolicyGate,
  policyGates,
  type ScanReport,
  type ScanReportSource,
  type Violation
} from "../policy/PolicyEngine.js"
import type { AdapterCall } from "./adapterCall.js"
import { reportNames } from "./artifactDigest.js"
import type { Emitter } from "./emitter.js"
import { sha256Hex } from "../util/hash.js"
import { forEachPooled } from "./pool.js"
import type { RolloutConfig } from "./RolloutConfig.js"

// Over the exact JSON of the request evaluated (not a canonical form): the decision log's
// `inputSha256` names those bytes.
const sha256 = (value: unknown) => sha256Hex(JSON.stringify(value))

export const summarize = (violations: ReadonlyArray<DeniedTarget>) => {
  const targetsHit = new Set(violations.map((v) => v.targetId))
  const first = violations[0]
  return `${violations.length} violation(s) on ${targetsHit.size} target(s)${first === undefined ? "" : `; first: ${first.targetId}: [${first.rule}] ${first.message}`}`
}

/** The engine-decided gates the spec turns on, in a fixed order. */
export const enabledPolicyGates = (gates: RolloutConfig["gates"]): ReadonlyArray<PolicyGate> =>
  policyGates.filter((gate) => (gate === "signature" ? false : gates[gate]))

/** The decision restricted to the enabled gates: what gates the rollout, and what the audit log records. */
export const forGates = (decision: PolicyDecision, enabled: ReadonlySet<PolicyGate>): PolicyDecision => {
  const deny = decision.deny.filter((v) => enabled.has(v.gate))
  const warn = decision.warn.filter((v) => enabled.has(v.gate))
  if (deny.length === decision.deny.length && warn.length === decision.warn.length) return decision
  // allow=false with no deny at all stays a deny (fail closed); otherwise the filtered deny decides.
  return { allow: deny.length === 0 && (decision.allow || decision.deny.length > 0), deny, warn }
}

/**
 * The engine-decided gates (policy, scan): inspects targets, renders the workload as it will run,
 * evaluates the policy engine once per distinct workload, and publishes one decision per enabled
 * gate. Each violation carries its gate (the engine tags it); a gate the spec turns off neither
 * denies nor warns. Fails closed: a missing engine is a violation, an inspect that fails is the
 * caller's denial.
 */
export const makeGates = (deps: {
  readonly config: RolloutConfig
  readonly adapter: TargetAdapter["Service"]
  readonly policy: PolicyEngine["Service"] | undefined
  readonly scans: ScanReportSource["Service"] | undefined
  readonly call: AdapterCall
  readonly events: Emitter
  readonly targets: ReadonlyMap<string, Target>
}) => {
  const { config, adapter, policy, scans, call, events } = deps
  const evaluated = new Map<string, PolicyDecision>()
  // The first decision the engine could not reach (see PolicyDecision.undecided): the gate denies
  // with it, so the workloads after it get it too rather than another wait of the engine's limit
  // each (a bundle that hangs on every input would otherwise hold a gate over 1,000 distinct
  // containers for over an hour).
  let undecided: PolicyDecision | undefined
  const gates = enabledPolicyGates(config.gates)
  const enabled: ReadonlySet<PolicyGate> = new Set(gates)

  // Untraced: it runs once per target (a span each would be 100,000 spans); the gate's span is
  // the interpreter's `sluice.gates`, which the decisions annotate.
  const decide = Effect.fnUntraced(function* (
    targetId: string,
    workload: WorkloadSource,
    engine: PolicyEngine["Service"],
    report: ScanReport | undefined
  ) {
    const key = sha256({ workload, scan: report === undefined ? null : report.image })
    const cached = evaluated.get(key)
    if (cached !== undefined) return cached
    if (undecided !== undefined) return undecided
    const params = config.gates.params
    const raw = yield* engine.evaluate({
      targetId,
      image: config.artifact.image.raw,
      workload,
      scan: report,
      gates,
      ...(params === undefined ? {} : { params })
    })
    // The decision recorded is the one that gates the rollout, so the audit stream agrees with
    // the gate events: without the violations of a disabled gate.
    const decision = forGates(raw, enabled)
    evaluated.set(key, decision)
    if (raw.undecided === true) undecided = decision
    yield* events.emit({
      type: "policyDecision",
      targetId,
      bundleRevision: engine.revision ?? "unknown",
      inputSha256: key,
      decision
    })
    return decision
  })

  const targetOf = (id: string): Effect.Effect<Target, AdapterError> => {
    const t = deps.targets.get(id)
    return t === undefined
      ? Effect.fail(new AdapterError({ operation: "inspect", target: id, message: "unknown target", transient: false }))
      : Effect.succeed(t)
  }

  /**
   * The scan report, bound to the artifact's digest: a report that does not name the digest the
   * rollout deploys is not given to the policies, and the scan gate denies naming both digests.
   * Without a known digest (an adapter that cannot resolve one and no digest in the spec) the report
   * is matched by name, and the scan gate warns that it is not bound.
   */
  const boundReport = Effect.fnUntraced(function* () {
    const digest = config.artifactDigest
    const image = digest?.reference ?? config.artifact.image.raw
    const none = { report: undefined, deny: [] as GateViolation[], warn: [] as GateViolation[] }
    if (scans === undefined) return none
    const found = yield* scans.reportFor(image, digest?.digest)
    if (found === undefined) return none
    const from = found.source ?? found.image
    if (digest === undefined) {
      return {
        ...none,
        report: found,
        warn: [
          {
            targetId: "*",
            rule: "scan/digest-unknown",
            message: `the scan report ${from} is matched to ${image} by name only: the artifact's digest is unknown (the spec pins none and the ${config.adapter} adapter found none in a registry); pin the image by digest to bind the report to it`
          }
        ]
      }
    }
    if (reportNames(found, digest)) return { ...none, report: found }
    const named = found.digests.length === 0 ? "no digest" : found.digests.join(", ")
    return {
      ...none,
      deny: [
        {
          targetId: "*",
          rule: "scan/digest-mismatch",
          message: `the scan report ${from} was made for ${named}, not for ${digest.digest}, the digest of ${digest.reference} the rollout deploys (${digest.source === "spec" ? "pinned in the spec" : "resolved from the registry"}): the image under that name is not the one scanned`
        }
      ]
    }
  })

  /** Runs the enabled policy-engine gates over targets; `undefined` wave = the pre-flight gate. */
  const check = Effect.fnUntraced(function* (ids: ReadonlyArray<string>, wave: number | undefined) {
    if (gates.length === 0) return [] as DeniedTarget[]
    if (policy === undefined) {
      return [
        {
          targetId: "*",
          rule: "engine/missing",
          message: `the ${gates.join(" and ")} gate${gates.length > 1 ? "s are" : " is"} enabled but no policy engine is configured (fail closed)`
        }
      ]
    }
    const scan = enabled.has("scan") ? yield* boundReport() : { report: undefined, deny: [], warn: [] }
    const report = scan.report
    const inspected = yield* forEachPooled(
      ids,
      (id) =>
        targetOf(id).pipe(
          Effect.flatMap((t) => call("inspect", id, adapter.inspect(t))),
          Effect.flatMap((s) =>
            adapter.render === undefined
              ? Effect.succeed({ id, workload: withImage(s.workload, config.artifact.image.raw) })
              : call("inspect", id, adapter.render(s, config.artifact)).pipe(
                  Effect.map((workload) => ({ id, workload }))
                )
          )
        ),
      config.operations.concurrency
    )
    const byGate = new Map<PolicyGate, { violations: GateViolation[]; warnings: GateViolation[] }>(
      gates.map((g) => [g, { violations: [], warnings: [] }])
    )
    const scanGate = byGate.get("scan")
    if (scanGate !== undefined) {
      scanGate.violations.push(...scan.deny)
      scanGate.warnings.push(...scan.warn)
    }
    for (const { id, workload } of inspected) {
      const decision = yield* decide(id, workload, policy, report)
      for (const v of decision.deny) byGate.get(v.gate)?.violations.push(gateViolation(v, id))
      if (!decision.allow && decision.deny.length === 0) {
        // An engine that says no without saying why denies every gate it was asked about.
        for (const decided of byGate.values()) {
          decided.violations.push({
            targetId: id,
            rule: "engine/unexplained-deny",
            message: "the policy engine returned allow=false without any violation (fail closed)"
          })
        }
      }
      for (const v of decision.warn) byGate.get(v.gate)?.warnings.push(gateViolation(v, id))
    }
    const waveField = wave === undefined ? {} : { wave }
    const out: DeniedTarget[] = []
    for (const [gate, decided] of byGate) {
      yield* events.emit({
        type: "gateDecided",
        gate,
        ...waveField,
        allow: decided.violations.length === 0,
        violations: decided.violations,
        warnings: decided.warnings
      })
      for (const v of decided.violations) {
        out.push({
          targetId: v.targetId,
          rule: v.rule,
          message: v.message,
          ...(v.container === undefined ? {} : { container: v.container })
        })
      }
    }
    return out
  })

  return { check }
}

/** A violation as a gate event lists it: the target it was found on, without the gate (the event names it). */
const gateViolation = ({ gate: _gate, ...v }: Violation, targetId: string): GateViolation => ({ ...v, targetId })
