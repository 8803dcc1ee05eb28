import { Clock, Effect, Schedule, Stream } from "effect"
import type { MachineEvent } from "../machine/types.js"
import type { ControlRequest, JournalEntry, RolloutStoreShape } from "../store/RolloutStore.js"
import type { Journal } from "./journal.js"

export const controlEvent = (c: ControlRequest): MachineEvent =>
  c.signal === "ABORT"
    ? c.reason === undefined
      ? { type: "ABORT", controlId: c.id }
      : { type: "ABORT", reason: c.reason, controlId: c.id }
    : c.signal === "PROMOTE_FULL"
      ? { type: "PROMOTE", full: true, controlId: c.id }
      : { type: c.signal, controlId: c.id }

/**
 * Operator controls sent from other processes through the store. Each control is journaled before
 * it is acknowledged (so a crash in between loses none) and delivered once, however often and from
 * wherever the inbox is read: the run reads it before it acts on each batch of commands (so a
 * control is acted on before any further command) and polls it while it waits.
 */
export const makeControlInbox = (deps: {
  readonly store: RolloutStoreShape
  readonly rolloutId: string
  readonly journal: Journal
  /** Controls already journaled (from the journal, then from this run). */
  readonly seen: Set<string>
}) => {
  const take = (ignored: string | undefined) =>
    Effect.gen(function* () {
      const inbox = yield* deps.store.pendingControls(deps.rolloutId)
      if (inbox.length === 0) return [] as MachineEvent[]
      // Marked before the (async) journal write, so two readers never take the same control.
      const fresh = inbox.filter((c) => !deps.seen.has(c.id))
      for (const c of fresh) deps.seen.add(c.id)
      if (fresh.length > 0) {
        const at = yield* Clock.currentTimeMillis
        yield* deps.journal.append(
          fresh.map(
            (request): JournalEntry =>
              ignored === undefined ? { kind: "control", at, request } : { kind: "control", at, request, ignored }
          )
        )
      }
      yield* deps.store.ackControls(
        deps.rolloutId,
        inbox.map((c) => c.id)
      )
      return ignored === undefined ? fresh.map(controlEvent) : []
    })
  return {
    /** New controls, journaled and acknowledged, as machine events. */
    drain: take(undefined),
    /** After the final state: new controls are journaled as ignored, with the reason, for their senders. */
    refuse: (reason: string) => Effect.asVoid(take(reason)),
    /** Polls the inbox while the run waits. */
    poll: (pollMs: number) =>
      Stream.fromEffectSchedule(take(undefined), Schedule.spaced(pollMs)).pipe(
        Stream.flatMap((events) => Stream.fromIterable(events))
      )
  }
}
