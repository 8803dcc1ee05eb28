import { Effect } from "effect"
import { type EventSink, makeRolloutEvent, type RolloutEventBody } from "../events/RolloutEvent.js"
import type { RolloutMetricsShape } from "../telemetry/RolloutMetrics.js"
import type { RolloutTracing } from "../telemetry/RolloutTracing.js"

/**
 * Publishes a run's events with its id and the Clock's time to the sink, the metrics and the
 * spans, when there are any; with none of them, nothing is built at all.
 */
export interface Emitter {
  readonly enabled: boolean
  readonly emit: (body: RolloutEventBody) => Effect.Effect<void>
}

export const makeEmitter = (
  rolloutId: string,
  sink: EventSink["Service"] | undefined,
  metrics?: RolloutMetricsShape,
  tracing?: RolloutTracing
): Emitter => {
  const traced = tracing?.enabled === true ? tracing : undefined
  if (sink === undefined && metrics === undefined && traced === undefined)
    return { enabled: false, emit: () => Effect.void }
  if (traced === undefined) {
    return {
      enabled: true,
      emit: (body) =>
        Effect.clockWith((clock) => {
          const event = makeRolloutEvent(rolloutId, clock.currentTimeMillisUnsafe(), body)
          if (metrics === undefined) return sink!.publish(event)
          return sink === undefined ? metrics.event(event) : Effect.andThen(metrics.event(event), sink.publish(event))
        })
    }
  }
  return {
    enabled: true,
    emit: (body) =>
      Effect.clockWith((clock) => {
        const event = makeRolloutEvent(rolloutId, clock.currentTimeMillisUnsafe(), body)
        return Effect.all(
          [
            traced.event(event),
            metrics === undefined ? Effect.void : metrics.event(event),
            sink === undefined ? Effect.void : sink.publish(event)
          ],
          { discard: true }
        )
      })
  }
}
