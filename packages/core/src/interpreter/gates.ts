import { Effect } from "effect"
import { AdapterError, type TargetAdapter } from "../adapter/TargetAdapter.js"
import { withImage } from "../domain/render.js"
import type { Target, WorkloadSource } from "../domain/Target.js"
import type { GateViolation } from "../events/RolloutEvent.js"
import type { DeniedTarget } from "../machine/types.js"
import type { PolicyDecision, PolicyEngine, ScanReport, ScanReportSource } from "../policy/PolicyEngine.js"
import type { AdapterCall } from "./adapterCall.js"
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

/**
 * The policy and scan gates: inspects targets, renders the workload as it will run, evaluates the
 * policy engine once per distinct workload, and publishes the decisions. Fails closed: a missing
 * engine is a violation, an inspect that fails is the caller's denial.
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
  /** A disabled scan gate is not applicable: its rules (`scan…`) neither deny nor warn. */
  const applies = (rule: string) => config.gates.scan || !rule.startsWith("scan")

  const decide = Effect.fn("Gates.decide")(function* (
    targetId: string,
    workload: WorkloadSource,
    engine: PolicyEngine["Service"],
    report: ScanReport | undefined
  ) {
    const key = sha256({ workload, scan: report === undefined ? null : report.image })
    const cached = evaluated.get(key)
    if (cached !== undefined) return cached
    const raw = yield* engine.evaluate({ targetId, image: config.artifact.image.raw, workload, scan: report })
    // The decision recorded is the one that gates the rollout, so the audit stream agrees with
    // the gate events: without the rules of a disabled gate.
    const deny = raw.deny.filter((v) => applies(v.rule))
    const decision: PolicyDecision =
      deny.length === raw.deny.length && raw.warn.every((v) => applies(v.rule))
        ? raw
        : {
            ...raw,
            allow: deny.length === 0 && (raw.allow || raw.deny.length > 0),
            deny,
            warn: raw.warn.filter((v) => applies(v.rule))
          }
    evaluated.set(key, decision)
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

  /** Runs the policy and scan gates over targets; `undefined` wave = the pre-flight gate. */
  const check = Effect.fn("Gates.check")(function* (ids: ReadonlyArray<string>, wave: number | undefined) {
    if (!config.gates.policy && !config.gates.scan) return [] as DeniedTarget[]
    if (policy === undefined) {
      return [
        {
          targetId: "*",
          rule: "engine/missing",
          message: "the policy gate is enabled but no policy engine is configured (fail closed)"
        }
      ]
    }
    const report =
      config.gates.scan && scans !== undefined ? yield* scans.reportFor(config.artifact.image.raw) : undefined
    const violations: GateViolation[] = []
    const warnings: GateViolation[] = []
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
    for (const { id, workload } of inspected) {
      const decision = yield* decide(id, workload, policy, report)
      for (const v of decision.deny) violations.push({ ...v, targetId: id })
      for (const v of decision.warn) warnings.push({ ...v, targetId: id })
    }
    const isScan = (v: GateViolation) => v.rule.startsWith("scan")
    const waveField = wave === undefined ? {} : { wave }
    yield* events.emit({
      type: "gateDecided",
      gate: "policy",
      ...waveField,
      allow: !violations.some((v) => !isScan(v)),
      violations: violations.filter((v) => !isScan(v)),
      warnings: warnings.filter((v) => !isScan(v))
    })
    if (config.gates.scan) {
      yield* events.emit({
        type: "gateDecided",
        gate: "scan",
        ...waveField,
        allow: !violations.some(isScan),
        violations: violations.filter(isScan),
        warnings: warnings.filter(isScan)
      })
    }
    return violations.map(
      (v): DeniedTarget => ({
        targetId: v.targetId,
        rule: v.rule,
        message: v.message,
        ...(v.container === undefined ? {} : { container: v.container })
      })
    )
  })

  return { check }
}
