import { Clock, Effect, Option } from "effect"
import { TargetAdapter } from "../adapter/TargetAdapter.js"
import { inspectRollout, RolloutError, resumeRollout } from "../interpreter/Interpreter.js"
import type { Revision } from "../domain/Target.js"
import { RolloutLocked, type RolloutHeader, RolloutStore } from "../store/RolloutStore.js"

export interface RollbackOptions {
  /** Id of the rollback run; default `<id>-rollback` (then `-rollback-2`, … if taken). */
  readonly rolloutId?: string
  readonly owner?: string
}

/** The targets a manual rollback of a finished rollout restores: touched and not already rolled back. */
export const rollbackTargetsOf = (context: {
  readonly touched: ReadonlyArray<string>
  readonly rolledBack: ReadonlyArray<string>
}): ReadonlyArray<string> => {
  const done = new Set(context.rolledBack)
  return context.touched.filter((id) => !done.has(id))
}

/**
 * Creates (without running) a rollback run for a finished rollout: a new rollout whose machine
 * starts in `rollback` mode over every target the original touched and did not roll back, each
 * restored to the revision recorded in the original's header. When a TargetAdapter is provided,
 * targets already on their previous revision are left out. Run it with `resumeRollout(id)`.
 */
export const createRollback = (rolloutId: string, options: RollbackOptions = {}) =>
  Effect.gen(function* () {
    const store = yield* RolloutStore
    const original = yield* inspectRollout(rolloutId)
    if (original.result === undefined) {
      return yield* new RolloutError({
        rolloutId,
        message: `rollout ${rolloutId} has not finished (state ${JSON.stringify(original.snapshot.value)}); abort it instead`
      })
    }
    const owner = yield* store.owner(rolloutId)
    if (owner !== undefined) return yield* new RolloutLocked({ rolloutId, owner })
    let targets = rollbackTargetsOf(original.progress)
    // With an adapter at hand, leave out targets that already run their previous revision (an
    // earlier rollback did it, or an operator): rolling back twice is a no-op, not a new run.
    const adapter = Option.getOrUndefined(yield* Effect.serviceOption(TargetAdapter))
    if (adapter !== undefined && targets.length > 0) {
      const byId = new Map(original.header.plan.targets.map((t) => [t.id, t]))
      const current = yield* Effect.forEach(
        targets,
        (id) => {
          const target = byId.get(id)
          return target === undefined
            ? Effect.succeed({ id, image: undefined })
            : adapter.inspect(target).pipe(
                Effect.map((s) => ({ id, image: s.revision.image as string | undefined })),
                Effect.orElseSucceed(() => ({ id, image: undefined }))
              )
        },
        { concurrency: original.header.config.operations.concurrency }
      )
      const already = new Set(
        current
          .filter((c) => c.image !== undefined && c.image === original.header.previous[c.id]?.image)
          .map((c) => c.id)
      )
      if (already.size === targets.length) {
        return yield* new RolloutError({
          rolloutId,
          message: `every target rollout ${rolloutId} touched already runs its previous revision; nothing to roll back`
        })
      }
      targets = targets.filter((id) => !already.has(id))
    }
    if (targets.length === 0) {
      return yield* new RolloutError({
        rolloutId,
        message: `rollout ${rolloutId} (${original.result.outcome}) left no target to roll back`
      })
    }
    const missing = targets.filter((id) => original.header.previous[id] === undefined)
    if (missing.length > 0) {
      return yield* new RolloutError({
        rolloutId,
        message: `no previous revision recorded for ${missing.join(", ")}`
      })
    }
    const existing = new Set(yield* store.list())
    let id = options.rolloutId ?? `${rolloutId}-rollback`
    if (options.rolloutId === undefined) {
      for (let n = 2; existing.has(id); n++) id = `${rolloutId}-rollback-${n}`
    }
    const previous: Record<string, Revision> = {}
    for (const t of targets) previous[t] = original.header.previous[t]!
    const header: RolloutHeader = {
      rolloutId: id,
      createdAt: yield* Clock.currentTimeMillis,
      spec: original.header.spec,
      image: original.header.image,
      adapter: original.header.adapter,
      config: { ...original.header.config, rolloutId: id },
      machineInput: {
        ...original.header.machineInput,
        waves: [],
        mode: "rollback",
        rollbackTargets: targets
      },
      plan: { ...original.header.plan, waves: [], upToDate: [] },
      previous
    }
    yield* store.create(header)
    return header
  })

/**
 * Manual rollback of a finished rollout (`sluice rollback <id>`): every target it touched and did
 * not already roll back goes back to its previous revision, as a new rollout `<id>-rollback`
 * journaled like any other (so it resumes after a crash too).
 */
export const rollbackRollout = (rolloutId: string, options: RollbackOptions = {}) =>
  Effect.gen(function* () {
    const header = yield* createRollback(rolloutId, options)
    return yield* resumeRollout(header.rolloutId, options.owner)
  })
