import { Effect, Fiber, Layer, References } from "effect"
import { TestClock } from "effect/testing"

/**
 * Runs an effect under a virtual clock, advancing it in small steps until the effect finishes.
 * Sleeps (latencies, poll intervals, deadlines) cost no wall time, and runs are reproducible.
 * Fails loudly if virtual time runs past `limitMs`: a rollout that never ends is a bug.
 */
export const runVirtual = <A, E>(effect: Effect.Effect<A, E>, options: { stepMs?: number; limitMs?: number } = {}) => {
  const step = options.stepMs ?? 5
  const limit = options.limitMs ?? 3_600_000
  return Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    let elapsed = 0
    while (fiber.pollUnsafe() === undefined) {
      if (elapsed > limit) {
        yield* Fiber.interrupt(fiber)
        return yield* Effect.die(new Error(`virtual time limit of ${limit}ms exceeded: the run did not finish`))
      }
      yield* TestClock.adjust(step)
      elapsed += step
      yield* Effect.yieldNow
    }
    return yield* Fiber.join(fiber)
  }).pipe(
    Effect.provide(TestClock.layer()),
    // The engine's log lines (waves, rollbacks, outcomes) are for operators, not for test output.
    Effect.provideService(References.MinimumLogLevel, "None"),
    Effect.scoped
  )
}

export const runVirtualPromise = <A, E>(effect: Effect.Effect<A, E>, options?: { stepMs?: number; limitMs?: number }) =>
  Effect.runPromise(runVirtual(effect, options))

export { Layer }
