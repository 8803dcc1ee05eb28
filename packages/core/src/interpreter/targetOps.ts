import { Effect, Option } from "effect"
import { AdapterError, type TargetAdapter } from "../adapter/TargetAdapter.js"
import type { Revision, Target } from "../domain/Target.js"
import type { MachineEvent } from "../machine/types.js"
import type { RolloutHeader } from "../store/RolloutStore.js"
import { type AdapterCall, failureMessage } from "./adapterCall.js"
import type { Emitter } from "./emitter.js"
import type { Verdict } from "./health.js"
import type { Journal } from "./journal.js"
import type { PerTarget } from "./perTarget.js"
import { disabledTracing, type RolloutTracing } from "../telemetry/RolloutTracing.js"

/** Whether a target runs `previous`: the same image and, when the revision has one, the same configuration. */
const sameRevision = (running: Revision, previous: Revision) =>
  running.image === previous.image && running.configHash === previous.configHash

const logFailure = (wave: number, targetId: string, reason: string) =>
  Effect.logWarning(`target ${targetId} failed: ${reason}`).pipe(Effect.annotateLogs({ wave, target: targetId }))

/**
 * What the run does to targets: updates (apply, then verify health) and rollbacks, each reported
 * to the machine as an outcome event per target. A batch runs all its targets at once: the machine
 * already bounded the batch by what may be down together.
 */
export const makeTargetOps = (deps: {
  readonly header: RolloutHeader
  readonly adapter: TargetAdapter["Service"]
  readonly call: AdapterCall
  readonly events: Emitter
  readonly verify: (wave: number, target: Target) => Effect.Effect<Verdict, AdapterError>
  readonly journal: Journal
  /** The revision each target's apply returned (rollback hands it to the adapter). */
  readonly applied: PerTarget<Revision>
  readonly targets: ReadonlyMap<string, Target>
  readonly topologyOf: (id: string) => string | undefined
  readonly send: (event: MachineEvent) => Effect.Effect<void>
  /** Per-target spans only when the tracing says so (a tracer is installed, the fleet is small). */
  readonly tracing?: RolloutTracing
}) => {
  const { header, adapter, call, events, verify, journal, applied, targets, topologyOf, send } = deps
  const tracing = deps.tracing ?? disabledTracing
  // Decided once: without it the per-target path below builds no span and no wrapper at all.
  const perTarget = tracing.perTarget
  const { config, rolloutId } = header
  const topologyKey = header.plan.topologyKey

  const unknownTarget = (operation: AdapterError["operation"], id: string) =>
    new AdapterError({ operation, target: id, message: "unknown target", transient: false })

  /**
   * One target of an update batch: apply (never cut in half), then verify health. Written as a
   * pipeline rather than a generator: it runs once per target, and each generator step costs
   * about as much as the zero-latency adapter call itself.
   */
  const updateOne = (wave: number, mode: "replace" | "surge", targetId: string): Effect.Effect<void> => {
    const target = targets.get(targetId)
    const failed = (e: AdapterError) =>
      Effect.andThen(
        events.emit({ type: "targetFailed", wave, targetId, reason: failureMessage(e) }),
        send({ type: "TARGET_FAILED", targetId, reason: failureMessage(e) })
      ).pipe(Effect.tap(() => logFailure(wave, targetId, failureMessage(e))))
    if (target === undefined) return failed(unknownTarget("apply", targetId))
    const updating = events.enabled
      ? events.emit({
          type: "targetUpdating",
          wave,
          targetId,
          from: header.previous[targetId]?.image ?? "unknown",
          to: config.artifact.image.raw,
          ...(topologyKey === undefined ? {} : { topology: topologyOf(targetId)! })
        })
      : Effect.void
    // An apply is never cut in half by a cancel (failure, abort): a target stopped between
    // "old removed" and "new started" would be down for nobody's reason. Only a crash can
    // interrupt it, and resume finishes such half-done applies. The retries belong to the
    // apply too: a cancel during a backoff would leave a half-updated target in that state.
    const applyCall = Effect.uninterruptible(
      call("apply", targetId, adapter.apply(target, config.artifact, { rolloutId, wave, mode }))
    )
    const apply = perTarget ? tracing.target("sluice.target.apply", targetId, wave)(applyCall) : applyCall
    const check = perTarget
      ? tracing.target("sluice.target.verify", targetId, wave)(verify(wave, target))
      : verify(wave, target)
    return updating.pipe(
      Effect.andThen(apply),
      Effect.flatMap((revision) =>
        Effect.clockWith((clock) => {
          applied.set(targetId, revision)
          // Not waited for: a crash that loses it makes resume re-run an idempotent apply.
          return journal.appendLater([{ kind: "applied", at: clock.currentTimeMillisUnsafe(), targetId, revision }])
        })
      ),
      Effect.andThen(events.enabled ? events.emit({ type: "targetApplied", wave, targetId }) : Effect.void),
      Effect.andThen(check),
      Effect.flatMap((verdict) =>
        verdict.healthy
          ? send({ type: "TARGETS_HEALTHY", targetIds: [targetId] })
          : Effect.andThen(
              events.emit({ type: "targetFailed", wave, targetId, reason: verdict.reason }),
              send({ type: "TARGET_FAILED", targetId, reason: `${targetId} unhealthy: ${verdict.reason}` }).pipe(
                Effect.tap(() => logFailure(wave, targetId, `unhealthy: ${verdict.reason}`))
              )
            )
      ),
      Effect.catch(failed)
    )
  }

  /**
   * The rollback call, persistent: a rollback is the fleet's safety net, so transient failures are
   * retried (past the call's own retries, a pause of a few backoffs between rounds) until the
   * progress deadline has passed since the first try. When it still fails, the target is inspected:
   * one that already runs its previous revision (an apply that failed before it changed anything,
   * a rollback whose answer was lost) is restored, and "could not be rolled back" is reserved for
   * a target that really is not.
   */
  const restore = (target: Target, previous: Revision, rollback: () => Effect.Effect<void, AdapterError>) =>
    Effect.clockWith((clock) => {
      const giveUpAt = clock.currentTimeMillisUnsafe() + config.health.progressDeadlineMs
      const pause = Math.max(1, Math.min(2_000, config.operations.retryBaseMs * 8))
      const attempt: Effect.Effect<void, AdapterError> = Effect.catch(rollback(), (e: AdapterError) =>
        e.transient && clock.currentTimeMillisUnsafe() + pause < giveUpAt
          ? Effect.andThen(
              Effect.sleep(pause),
              Effect.suspend(() => attempt)
            )
          : Effect.fail(e)
      )
      return Effect.catch(attempt, (e: AdapterError) =>
        call("inspect", target.id, adapter.inspect(target)).pipe(
          Effect.matchEffect({
            onSuccess: (state) => (sameRevision(state.revision, previous) ? Effect.void : Effect.fail(e)),
            onFailure: () => Effect.fail(e)
          })
        )
      )
    })

  const rollbackOne = (targetId: string) =>
    Effect.gen(function* () {
      const target = targets.get(targetId)
      if (target === undefined) return yield* Effect.fail(unknownTarget("rollback", targetId))
      const previous = header.previous[targetId]
      if (previous === undefined) {
        return yield* Effect.fail(
          new AdapterError({
            operation: "rollback",
            target: targetId,
            message: "no previous revision recorded",
            transient: false
          })
        )
      }
      const appliedRevision = applied.get(targetId)
      const ctx = appliedRevision === undefined ? { rolloutId } : { rolloutId, applied: appliedRevision }
      yield* restore(target, previous, () => call("rollback", targetId, adapter.rollback(target, previous, ctx)))
      const verdict = yield* verify(-1, target).pipe(Effect.timeoutOption(config.health.progressDeadlineMs))
      const ok = Option.isSome(verdict) && verdict.value.healthy
      const reason = Option.isNone(verdict)
        ? "not healthy within the progress deadline after rollback"
        : verdict.value.healthy
          ? undefined
          : verdict.value.reason
      yield* events.emit({
        type: "targetRolledBack",
        targetId,
        to: previous.image,
        ok,
        ...(reason === undefined ? {} : { reason })
      })
      yield* send(
        ok
          ? { type: "TARGETS_ROLLED_BACK", targetIds: [targetId] }
          : { type: "TARGETS_ROLLBACK_FAILED", failures: [{ targetId, reason: reason ?? "unhealthy" }] }
      )
    }).pipe(
      Effect.catchTag("AdapterError", (e) =>
        events
          .emit({
            type: "targetRolledBack",
            targetId,
            to: header.previous[targetId]?.image ?? "unknown",
            ok: false,
            reason: failureMessage(e)
          })
          .pipe(
            Effect.andThen(
              send({ type: "TARGETS_ROLLBACK_FAILED", failures: [{ targetId, reason: failureMessage(e) }] })
            )
          )
      )
    )

  /** How a wave's applies run: the plan says (`surge` for a blue-green preview). */
  const modeOf = (wave: number): "replace" | "surge" => {
    const w = header.plan.waves[wave]
    return w?.mode ?? (w?.kind === "preview" ? "surge" : "replace")
  }

  return {
    modeOf,
    update: (wave: number, targetIds: ReadonlyArray<string>) => {
      const mode = modeOf(wave)
      return Effect.forEach(targetIds, (id) => updateOne(wave, mode, id), { concurrency: "unbounded", discard: true })
    },
    rollback: (targetIds: ReadonlyArray<string>) =>
      Effect.forEach(
        targetIds,
        perTarget ? (id) => tracing.target("sluice.target.rollback", id, -1)(rollbackOne(id)) : rollbackOne,
        { concurrency: "unbounded", discard: true }
      )
  }
}
