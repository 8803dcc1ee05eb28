import { Effect, Exit, Option, Schedule } from "effect"
import { AdapterError } from "../adapter/TargetAdapter.js"
import type { RolloutMetricsShape } from "../telemetry/RolloutMetrics.js"
import type { Emitter } from "./emitter.js"
import type { RolloutConfig } from "./RolloutConfig.js"

/** Runs adapter calls with the run's timeout, retrying transient failures with jittered backoff. */
export type AdapterCall = <A>(
  operation: AdapterError["operation"],
  targetId: string | undefined,
  effect: Effect.Effect<A, AdapterError>
) => Effect.Effect<A, AdapterError>

export const makeAdapterCall = (
  operations: RolloutConfig["operations"],
  events: Emitter,
  metrics?: RolloutMetricsShape
): AdapterCall => {
  // Backoff base, 2×base, 4×base…: the first wait is taken before the retries below, which go on
  // from 2×base.
  const laterRetries = Schedule.exponential(operations.retryBaseMs * 2).pipe(Schedule.jittered)
  return <A>(
    operation: AdapterError["operation"],
    targetId: string | undefined,
    effect: Effect.Effect<A, AdapterError>
  ) => {
    const measured =
      metrics === undefined
        ? effect
        : Effect.clockWith((clock) => {
            const start = clock.currentTimeNanosUnsafe()
            return Effect.onExit(effect, (exit) =>
              metrics.adapterCall(operation, Exit.isSuccess(exit), Number(clock.currentTimeNanosUnsafe() - start) / 1e9)
            )
          })
    const attempt = measured.pipe(
      Effect.timeoutOption(operations.timeoutMs),
      Effect.flatMap((o) =>
        Option.isSome(o)
          ? Effect.succeed(o.value)
          : Effect.fail(
              new AdapterError({
                operation,
                ...(targetId === undefined ? {} : { target: targetId }),
                message: `timed out after ${operations.timeoutMs}ms`,
                transient: true
              })
            )
      ),
      Effect.tapError((e) =>
        e.transient
          ? events.emit({
              type: "retrying",
              operation,
              ...(targetId === undefined ? {} : { targetId }),
              message: e.message
            })
          : Effect.void
      )
    )
    // The retry machinery is entered only after a first transient failure: a call that succeeds
    // (nearly every call) costs the attempt alone.
    return attempt.pipe(
      Effect.catch((e: AdapterError) =>
        e.transient && operations.retries > 0
          ? Effect.andThen(
              Effect.sleep(operations.retryBaseMs),
              attempt.pipe(
                Effect.retry({
                  schedule: laterRetries,
                  times: operations.retries - 1,
                  while: (e: AdapterError) => e.transient
                })
              )
            )
          : Effect.fail(e)
      )
    )
  }
}

export const failureMessage = (e: AdapterError) =>
  `${e.operation} failed${e.target === undefined ? "" : ` on ${e.target}`}: ${e.message}`
