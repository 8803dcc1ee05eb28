import { Cause, Effect, FiberMap, type Scope } from "effect"
import type { StoreError } from "../store/RolloutStore.js"

/**
 * Runs the machine's commands as fibers keyed by the command (`update:<wave>:<n>`, `timer:<id>`,
 * `gates`, …), so a cancel stops exactly the work it names. A fiber that fails other than by
 * interruption hands its cause to `onFailure` (the run stops: a handler that could not journal
 * must not be ignored). All of them end with the scope.
 */
export const makeCommandRunner = Effect.fn("CommandRunner.make")(function* (
  onFailure: (cause: Cause.Cause<StoreError>) => Effect.Effect<void>
): Effect.fn.Return<
  {
    readonly run: (key: string, effect: Effect.Effect<void, StoreError>) => Effect.Effect<void>
    readonly cancel: (key: string) => Effect.Effect<void>
    readonly cancelWhere: (prefix: string) => Effect.Effect<void>
    readonly stopAll: Effect.Effect<void>
  },
  never,
  Scope.Scope
> {
  const fibers = yield* FiberMap.make<string>()
  const running = new Set<string>()
  const cancel = (key: string) =>
    Effect.suspend(() => {
      running.delete(key)
      return FiberMap.remove(fibers, key)
    })
  return {
    run: (key, effect) =>
      Effect.suspend(() => {
        running.add(key)
        return FiberMap.run(
          fibers,
          key,
          effect.pipe(
            Effect.catchCause((cause) => (Cause.hasInterruptsOnly(cause) ? Effect.void : onFailure(cause))),
            Effect.ensuring(Effect.sync(() => running.delete(key)))
          )
        ).pipe(Effect.asVoid)
      }),
    cancel,
    cancelWhere: (prefix) =>
      Effect.suspend(() =>
        Effect.forEach(
          [...running].filter((key) => key.startsWith(prefix)),
          cancel,
          { discard: true }
        )
      ),
    stopAll: FiberMap.clear(fibers)
  }
})
