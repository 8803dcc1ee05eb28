import { type Cause, Deferred, Effect, Exit, Queue } from "effect"
import type { Revision } from "../domain/Target.js"
import { restoreContext } from "../machine/progress.js"
import { type RolloutSnapshot, rolloutMachine } from "../machine/rolloutMachine.js"
import { makeStepper } from "../machine/stepper.js"
import { targetIdsOf } from "../machine/steps.js"
import type { DeniedTarget, MachineEvent, MachineInput } from "../machine/types.js"
import type {
  ControlRequest,
  JournalEntry,
  JournalSnapshot,
  RolloutStoreShape,
  StoreError
} from "../store/RolloutStore.js"
import type { RolloutMetricsShape } from "../telemetry/RolloutMetrics.js"
import { noneOutstanding, type Outstanding, track } from "./outstanding.js"
import { PerTarget } from "./perTarget.js"

/**
 * Journals written before batched events (one target per event) are read as the batched form, so
 * a rollout started by an older version resumes.
 */
export const upgradeEvent = (event: MachineEvent): MachineEvent => {
  const legacy = event as unknown as { type: string; targetId?: string; reason?: string }
  switch (legacy.type) {
    case "TARGET_HEALTHY":
      return { type: "TARGETS_HEALTHY", targetIds: [legacy.targetId ?? ""] }
    case "TARGET_ROLLED_BACK":
      return { type: "TARGETS_ROLLED_BACK", targetIds: [legacy.targetId ?? ""] }
    case "TARGET_ROLLBACK_FAILED":
      return {
        type: "TARGETS_ROLLBACK_FAILED",
        failures: [{ targetId: legacy.targetId ?? "", reason: legacy.reason ?? "unhealthy" }]
      }
    default:
      return event
  }
}

/** Restores the machine from a snapshot, or undefined when it is in an older format. */
const restore = (input: MachineInput, from: JournalSnapshot): RolloutSnapshot | undefined => {
  const context = restoreContext(input, from.machine.context)
  if (context === undefined || from.commands === undefined) return undefined
  return rolloutMachine.resolveState({ value: from.machine.value as never, context }) as RolloutSnapshot
}

/**
 * Rebuilds a rollout from its journal: the machine is pure, so replaying its events is exact. With
 * a snapshot, the machine starts from it and only the events after `seq` are replayed; the cheap
 * bookkeeping (timers, applied revisions, controls, violations) always scans the whole journal.
 */
export const replay = (input: MachineInput, entries: ReadonlyArray<JournalEntry>, from?: JournalSnapshot) => {
  const stepper = makeStepper(input)
  const [initial, initialCommands] = stepper.initial()
  let snapshot = initial
  let outstanding: Outstanding = track(noneOutstanding(input), undefined, initialCommands)
  let start = 0
  if (from !== undefined && from.seq <= entries.length) {
    const restored = restore(input, from)
    if (restored !== undefined) {
      snapshot = restored
      outstanding = track(noneOutstanding(input), undefined, from.commands ?? [])
      start = from.seq
    }
  }
  const timerDue = new Map<string, number>()
  const deadlineTimers = new Set<string>()
  // When a process last wrote (it was alive then), and when a target last became healthy: the
  // progress deadline is "no progress for that long", and a resumed run does not count the time
  // no process ran the rollout (see Interpreter's resume).
  let lastAliveAt: number | undefined
  let lastProgressAt: number | undefined
  const applied = new PerTarget<Revision>(targetIdsOf(input))
  const controls = new Map<string, ControlRequest>()
  const seenControls = new Set<string>()
  const violations: DeniedTarget[] = []
  entries.forEach((entry, index) => {
    if (entry.kind !== "control" && (lastAliveAt === undefined || entry.at > lastAliveAt)) lastAliveAt = entry.at
    if (entry.kind === "control") {
      if (entry.ignored === undefined) controls.set(entry.request.id, entry.request)
      seenControls.add(entry.request.id)
    } else if (entry.kind === "event") {
      const event = upgradeEvent(entry.event)
      const controlId = (event as { controlId?: string }).controlId
      if (controlId !== undefined) controls.delete(controlId)
      if ((event.type === "GATES_DENIED" || event.type === "WAVE_DENIED") && event.violations !== undefined)
        violations.push(...event.violations)
      if (event.type === "TARGETS_HEALTHY") lastProgressAt = entry.at
      if (index >= start) {
        const [next, commands] = stepper.step(snapshot, event)
        snapshot = next
        outstanding = track(outstanding, event, commands)
      }
    } else if (entry.kind === "intent" && entry.command.kind === "startTimer" && entry.dueAt !== undefined) {
      // A pause keeps its first due time (wall-clock); a deadline takes its latest, which a
      // resumed run moved by the time no process ran the rollout.
      if (entry.command.purpose === "deadline") {
        deadlineTimers.add(entry.command.timerId)
        timerDue.set(entry.command.timerId, entry.dueAt)
      } else if (!timerDue.has(entry.command.timerId)) timerDue.set(entry.command.timerId, entry.dueAt)
    } else if (entry.kind === "applied") {
      applied.set(entry.targetId, entry.revision)
    }
  })
  /** Controls journaled as received whose event the machine never consumed (crash in between). */
  const pendingControls = [...controls.values()]
  return {
    stepper,
    snapshot,
    outstanding,
    initialCommands,
    timerDue,
    deadlineTimers,
    lastAliveAt,
    lastProgressAt,
    applied,
    pendingControls,
    seenControls,
    violations
  }
}

interface Pending {
  readonly entries: ReadonlyArray<JournalEntry>
  readonly done: Deferred.Deferred<void, StoreError> | undefined
}

/**
 * The run's journal writer, with group commit: entries appended while a write is in flight go out
 * together in the next write, one store append (one fsync for the file store) for all of them, in
 * the order they were appended.
 */
export interface Journal {
  /** Durable when it returns. */
  readonly append: (entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void, StoreError>
  /**
   * Queued for the next write without waiting for it: for records a crash may lose (a lost
   * `applied` makes resume re-run an idempotent apply). Written before anything appended later.
   */
  readonly appendLater: (entries: ReadonlyArray<JournalEntry>) => Effect.Effect<void>
  /** Entries durably written so far (the snapshot's `seq`). */
  readonly length: () => number
}

export const makeJournal = Effect.fn("Journal.make")(function* (
  store: RolloutStoreShape,
  rolloutId: string,
  initialLength: number,
  /** A write nobody waits for failed: the run must stop (no write-ahead, no crash safety). */
  onLostWrite: (cause: Cause.Cause<StoreError>) => Effect.Effect<void>,
  metrics?: RolloutMetricsShape
) {
  let length = initialLength
  const queue = yield* Queue.unbounded<Pending>()
  // Entries nobody waits for: buffered, and written at the head of the next write. A waited append
  // is offered after the buffer received everything appended before it, so order is kept.
  let later: JournalEntry[] = []
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.gen(function* () {
        const batch = yield* Queue.takeAll(queue)
        const all = later
        later = []
        for (const p of batch) for (const e of p.entries) all.push(e)
        if (all.length === 0) return
        const exit =
          metrics === undefined
            ? yield* Effect.exit(store.append(rolloutId, all))
            : yield* Effect.clockWith((clock) => {
                const start = clock.currentTimeNanosUnsafe()
                return Effect.exit(store.append(rolloutId, all)).pipe(
                  Effect.tap(() =>
                    metrics.journalAppend(all.length, Number(clock.currentTimeNanosUnsafe() - start) / 1e9)
                  )
                )
              })
        if (Exit.isSuccess(exit)) length += all.length
        let waited = false
        for (const p of batch) {
          if (p.done === undefined) continue
          waited = true
          yield* Deferred.done(p.done, exit)
        }
        if (Exit.isFailure(exit) && !waited) yield* onLostWrite(exit.cause)
      })
    )
  )
  return {
    append: (entries) =>
      entries.length === 0
        ? Effect.void
        : Effect.flatMap(Deferred.make<void, StoreError>(), (done) =>
            Queue.offer(queue, { entries, done }).pipe(Effect.andThen(Deferred.await(done)))
          ),
    appendLater: (entries) =>
      Effect.sync(() => {
        const wake = later.length === 0
        for (const e of entries) later.push(e)
        if (wake) Queue.offerUnsafe(queue, { entries: [], done: undefined })
      }),
    length: () => length
  } satisfies Journal
})
