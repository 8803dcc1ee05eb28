import { Effect } from "effect"
import { type EventSink, makeRolloutEvent, type RolloutEventBody } from "../events/RolloutEvent.js"

/** Publishes a run's events with its id and the Clock's time; nothing at all without a sink. */
export interface Emitter {
  readonly enabled: boolean
  readonly emit: (body: RolloutEventBody) => Effect.Effect<void>
}

export const makeEmitter = (rolloutId: string, sink: EventSink["Service"] | undefined): Emitter =>
  sink === undefined
    ? { enabled: false, emit: () => Effect.void }
    : {
        enabled: true,
        emit: (body) =>
          Effect.clockWith((clock) => sink.publish(makeRolloutEvent(rolloutId, clock.currentTimeMillisUnsafe(), body)))
      }
