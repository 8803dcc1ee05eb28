import { Clock, Effect, Schedule, Stream } from "effect"
import type { MachineEvent } from "../machine/types.js"
import type { ControlRequest, JournalEntry, RolloutStoreShape } from "../store/RolloutStore.js"
import type { Journal } from "./journal.js"

export const controlEvent = (c: ControlRequest): MachineEvent =>
  c.signal === "ABORT"
    ? c.reason === undefined
      ? { type: "ABORT", controlId: c.id }
      : { type: "ABORT", reason: c.reason, controlId: c.id }
    : { type: c.signal, controlId: c.id }

/**
 * Operator controls sent from other processes through the store, as a stream of machine events.
 * Each control is journaled before it is acknowledged (so a crash in between loses none) and
 * delivered once, however often the inbox is polled.
 */
export const controlInbox = (deps: {
  readonly store: RolloutStoreShape
  readonly rolloutId: string
  readonly journal: Journal
  readonly seen: Set<string>
  readonly pollMs: number
}) =>
  Stream.fromEffectSchedule(
    Effect.gen(function* () {
      const inbox = yield* deps.store.pendingControls(deps.rolloutId)
      const fresh = inbox.filter((c) => !deps.seen.has(c.id))
      if (fresh.length > 0) {
        const at = yield* Clock.currentTimeMillis
        yield* deps.journal.append(fresh.map((request): JournalEntry => ({ kind: "control", at, request })))
        for (const c of fresh) deps.seen.add(c.id)
      }
      if (inbox.length > 0)
        yield* deps.store.ackControls(
          deps.rolloutId,
          inbox.map((c) => c.id)
        )
      return fresh.map(controlEvent)
    }),
    Schedule.spaced(deps.pollMs)
  ).pipe(Stream.flatMap((events) => Stream.fromIterable(events)))
