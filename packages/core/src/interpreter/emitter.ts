import { Effect } from "effect"
import { type EventSink, makeRolloutEvent, type RolloutEventBody } from "../events/RolloutEvent.js"
import type { RolloutMetricsShape } from "../telemetry/RolloutMetrics.js"

/**
 * Publishes a run's events with its id and the Clock's time to the sink and the metrics, when
 * there are any; with neither, nothing is built at all.
 */
export interface Emitter {
  readonly enabled: boolean
  readonly emit: (body: RolloutEventBody) => Effect.Effect<void>
}

export const makeEmitter = (
  rolloutId: string,
  sink: EventSink["Service"] | undefined,
  metrics?: RolloutMetricsShape
): Emitter => {
  if (sink === undefined && metrics === undefined) return { enabled: false, emit: () => Effect.void }
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
