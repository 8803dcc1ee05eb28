import { Clock, Effect } from "effect"
import type { EventSink, RolloutEvent } from "../events/RolloutEvent.js"

type Body = RolloutEvent extends infer E ? (E extends RolloutEvent ? Omit<E, "rolloutId" | "at"> : never) : never

/** Publishes a run's events with its id and the Clock's time; nothing at all without a sink. */
export interface Emitter {
  readonly enabled: boolean
  readonly emit: (body: Body) => Effect.Effect<void>
}

export const makeEmitter = (rolloutId: string, sink: EventSink["Service"] | undefined): Emitter =>
  sink === undefined
    ? { enabled: false, emit: () => Effect.void }
    : {
        enabled: true,
        emit: (body) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) => sink.publish({ rolloutId, at, ...body } as RolloutEvent))
      }
