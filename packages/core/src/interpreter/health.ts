import { Effect, Schedule } from "effect"
import type { AdapterError, HealthReport, HealthStatus, TargetAdapter } from "../adapter/TargetAdapter.js"
import type { Target } from "../domain/Target.js"
import type { AdapterCall } from "./adapterCall.js"
import type { Emitter } from "./emitter.js"
import type { RolloutConfig } from "./RolloutConfig.js"

export type Verdict = { readonly healthy: true } | { readonly healthy: false; readonly reason: string }

/**
 * Health verification: probes a target on the poll schedule until it has been healthy for
 * `minReadyMs` (healthy) or reports unhealthy. Progressing targets are probed again; the progress
 * deadline, not this, decides when waiting is over. A probe that errors transiently (after the
 * call's own retries) is no answer at all, not an unhealthy one: the target is probed again at the
 * next interval, and only the deadline ends the wait (a flaky probe endpoint must not fail, and
 * roll back, a healthy wave).
 */
export const makeHealthCheck = (deps: {
  readonly adapter: TargetAdapter["Service"]
  readonly health: RolloutConfig["health"]
  readonly call: AdapterCall
  readonly events: Emitter
  readonly topologyOf: (id: string) => string | undefined
}) => {
  const options = deps.health.probe === undefined ? undefined : { probe: deps.health.probe }
  const schedule = Schedule.spaced(deps.health.pollIntervalMs)
  /** Probes until decided; the first probe needs no schedule (a ready target answers at once). */
  return (wave: number, target: Target): Effect.Effect<Verdict, AdapterError> => {
    let healthySince: number | undefined
    let last: HealthStatus | undefined
    const answered = (report: HealthReport): Effect.Effect<Verdict | undefined> =>
      Effect.clockWith((clock) => {
        const now = clock.currentTimeMillisUnsafe()
        let verdict: Verdict | undefined
        if (report.status === "unhealthy") verdict = { healthy: false, reason: report.reason ?? "unhealthy" }
        else if (report.status === "healthy") {
          healthySince ??= now
          if (now - healthySince >= deps.health.minReadyMs) verdict = { healthy: true }
        } else healthySince = undefined
        if (report.status === last || !deps.events.enabled) {
          last = report.status
          return Effect.succeed(verdict)
        }
        last = report.status
        const topology = deps.topologyOf(target.id)
        return Effect.as(
          deps.events.emit({
            type: "healthChanged",
            wave,
            targetId: target.id,
            status: report.status,
            ...(report.reason === undefined ? {} : { reason: report.reason }),
            ...(topology === undefined ? {} : { topology })
          }),
          verdict
        )
      })
    const probe = deps.call("health", target.id, deps.adapter.health(target, options)).pipe(
      Effect.matchEffect({
        onSuccess: answered,
        onFailure: (e) => (e.transient ? Effect.succeed(undefined) : Effect.fail(e))
      })
    )
    return Effect.flatMap(probe, (first) =>
      first !== undefined
        ? Effect.succeed(first)
        : Effect.andThen(
            Effect.sleep(deps.health.pollIntervalMs),
            Effect.repeat(probe, { schedule, until: (v) => v !== undefined })
          ).pipe(Effect.map((v) => v!))
    )
  }
}
