import { Cause, Effect, Exit, Layer } from "effect"
import fc from "fast-check"
import { EventSink, type RolloutEvent } from "../../src/events/RolloutEvent.js"
import { type RolloutResult, resumeRollout, startRollout } from "../../src/interpreter/Interpreter.js"
import type { RolloutConfig } from "../../src/interpreter/RolloutConfig.js"
import type { Plan, Wave } from "../../src/plan/Plan.js"
import { PolicyEngine } from "../../src/policy/PolicyEngine.js"
import { forceRelease, makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore, type RolloutStoreShape } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet, type VersionBehaviour } from "../../src/testing/SimulatedFleet.js"
import { configFor, V1, V2 } from "../support/harness.js"
import { runVirtual } from "../support/virtualTime.js"

export const propertyRuns = (fallback: number) => Number(process.env.SLUICE_PROPERTY_RUNS ?? fallback)

export interface Scenario {
  readonly size: number
  readonly zones: number
  readonly waveSizes: ReadonlyArray<number>
  readonly maxUnavailable: ReadonlyArray<number>
  readonly behaviour: "healthy" | "neverHealthy" | "failAfter" | "flapping"
  readonly permanentFailure: number | null
  readonly transientRate: number
  readonly rollbackOnFailure: boolean
  readonly rollbackOnAbort: boolean
  readonly abortAtMs: number | null
  readonly pauseAtMs: number | null
  readonly gateDenied: boolean
  readonly applyLatencyMs: number
  readonly readyLatencyMs: number
  readonly seed: number
  /** Journal entries between snapshots: small, so crashes resume from snapshots often. */
  readonly snapshotEvery: number
  /** Journal append counts at which the process "crashes" (before that append is written). */
  readonly crashes: ReadonlyArray<number>
}

export const scenarioArb = (options: { crashes: boolean; aborts: boolean }): fc.Arbitrary<Scenario> =>
  fc.record({
    size: fc.integer({ min: 1, max: 14 }),
    zones: fc.integer({ min: 1, max: 3 }),
    waveSizes: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
    maxUnavailable: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }),
    behaviour: fc.constantFrom("healthy", "healthy", "neverHealthy", "failAfter", "flapping"),
    permanentFailure: fc.option(fc.nat({ max: 20 }), { freq: 4 }),
    transientRate: fc.constantFrom(0, 0, 0.1, 0.3),
    rollbackOnFailure: fc.boolean(),
    rollbackOnAbort: fc.boolean(),
    abortAtMs: options.aborts ? fc.option(fc.integer({ min: 0, max: 300 }), { freq: 3 }) : fc.constant(null),
    pauseAtMs: options.aborts ? fc.option(fc.integer({ min: 0, max: 300 }), { freq: 4 }) : fc.constant(null),
    gateDenied: fc.boolean().map((b) => b && Math.random() < 2), // keep shrinkable boolean
    applyLatencyMs: fc.integer({ min: 0, max: 30 }),
    readyLatencyMs: fc.integer({ min: 0, max: 30 }),
    seed: fc.integer(),
    snapshotEvery: fc.integer({ min: 1, max: 40 }),
    crashes: options.crashes
      ? fc
          .uniqueArray(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 3 })
          .map((a) => [...a].sort((x, y) => x - y))
      : fc.constant([])
  })

const POLL_MS = 10
const MIN_READY_MS = 30

const behaviourOf = (s: Scenario): VersionBehaviour => {
  switch (s.behaviour) {
    case "healthy":
      return { kind: "healthy" }
    case "neverHealthy":
      return { kind: "neverHealthy" }
    case "failAfter":
      // Fails before minReady elapses, so it can never be declared healthy first.
      return { kind: "failAfter", afterMs: MIN_READY_MS / 2 }
    case "flapping":
      return { kind: "flapping" }
  }
}

export const planFor = (s: Scenario, ids: ReadonlyArray<string>): Plan => {
  const waves: Wave[] = []
  let i = 0
  let w = 0
  while (i < ids.length) {
    const size = s.waveSizes[w % s.waveSizes.length]!
    waves.push({
      index: waves.length,
      kind: "batch",
      targets: ids.slice(i, i + size),
      maxUnavailable: s.maxUnavailable[w % s.maxUnavailable.length]!,
      maxSurge: 0,
      analysis: [],
      approvalBefore: false
    })
    i += size
    w++
  }
  return { strategy: "rolling", targets: [], waves, upToDate: [], fingerprint: "prop" }
}

class Crash extends Error {}

/** Wraps a store so the process "dies" right before the Nth journal append reaches it. */
const crashingStore = (
  inner: RolloutStoreShape,
  counter: { appends: number },
  crashAt: number | undefined,
  onCrash: () => void
): RolloutStoreShape => ({
  ...inner,
  append: (id, entries) =>
    Effect.suspend(() => {
      counter.appends++
      if (crashAt !== undefined && counter.appends === crashAt) {
        onCrash()
        return Effect.die(new Crash(`crash at append ${crashAt}`))
      }
      return inner.append(id, entries)
    })
})

export interface RunOutcome {
  readonly result: RolloutResult
  readonly fleet: ReturnType<typeof makeSimulatedFleet>
  readonly plan: Plan
  readonly events: ReadonlyArray<RolloutEvent>
  readonly crashesHit: number
  readonly config: RolloutConfig
  readonly store: ReturnType<typeof makeMemoryStore>
}

/** Runs one scenario to its end under virtual time, crashing and resuming at the given points. */
export const runScenario = (s: Scenario, options: { crash: boolean } = { crash: true }) => {
  const fleet = makeSimulatedFleet({
    size: s.size,
    zones: Array.from({ length: s.zones }, (_, i) => `zone-${i}`),
    seed: s.seed,
    image: V1,
    namePrefix: "t",
    versions: { [V2]: { behaviour: behaviourOf(s) } },
    applyLatency: { minMs: 0, maxMs: s.applyLatencyMs },
    readyLatency: { minMs: 0, maxMs: s.readyLatencyMs },
    faults: {
      transientErrorRate: s.transientRate,
      permanentApplyFailures:
        s.permanentFailure === null
          ? []
          : [`t-${String(s.permanentFailure % s.size).padStart(String(s.size).length, "0")}`]
    }
  })
  const ids = [...fleet.targets.keys()]
  const plan = { ...planFor(s, ids), targets: [...fleet.targets.values()].map((t) => t.target) }
  const store = makeMemoryStore()
  const events: RolloutEvent[] = []
  const config = configFor({
    health: {
      progressDeadlineMs: 2_000,
      minReadyMs: s.behaviour === "healthy" ? 0 : MIN_READY_MS,
      pollIntervalMs: POLL_MS
    },
    rollback: { onFailure: s.rollbackOnFailure, onAbort: s.rollbackOnAbort },
    gates: { policy: s.gateDenied, scan: false, analysis: [] },
    operations: { timeoutMs: 60_000, retries: 30, retryBaseMs: 1, concurrency: 4, snapshotEvery: s.snapshotEvery }
  })
  const policy = Layer.succeed(PolicyEngine, {
    evaluate: () =>
      Effect.succeed({
        allow: false,
        deny: [{ rule: "test/deny-all", message: "denied by the scenario", container: "agent", gate: "policy" }],
        warn: []
      })
  })
  const counter = { appends: 0 }
  // Crash points are spread over the run's expected journal length (about 5 appends per target).
  const span = s.size * 5 + 8
  const crashes = options.crash ? [...new Set(s.crashes.map((c) => 1 + (c % span)))].sort((a, b) => a - b) : []
  const layerFor = (crashAt: number | undefined) =>
    Layer.mergeAll(
      fleet.layer,
      Layer.succeed(RolloutStore, crashingStore(store, counter, crashAt, fleet.crash)),
      Layer.succeed(EventSink, { publish: (e: RolloutEvent) => Effect.sync(() => void events.push(e)) }),
      policy
    )

  const program = Effect.gen(function* () {
    const controls: Array<Effect.Effect<void>> = []
    const control = (atMs: number | null, signal: "ABORT" | "PAUSE") =>
      atMs === null
        ? Effect.void
        : Effect.sleep(atMs).pipe(
            Effect.andThen(store.sendControl("r1", { id: `${signal}-${atMs}`, signal, at: atMs }).pipe(Effect.ignore))
          )
    controls.push(control(s.abortAtMs, "ABORT"), control(s.pauseAtMs, "PAUSE"))
    // A paused rollout would wait forever for an operator: the scenario's operator resumes later.
    if (s.pauseAtMs !== null) {
      controls.push(
        Effect.sleep(s.pauseAtMs + 150).pipe(
          Effect.andThen(
            store.sendControl("r1", { id: "RESUME", signal: "RESUME", at: s.pauseAtMs + 150 }).pipe(Effect.ignore)
          )
        )
      )
    }
    yield* Effect.forkChild(Effect.all(controls, { concurrency: "unbounded" }))
    let crashesHit = 0
    let exit: Exit.Exit<RolloutResult, unknown> = yield* Effect.exit(
      startRollout({ config, spec: {}, plan: () => plan }).pipe(Effect.provide(layerFor(crashes.shift())))
    )
    while (Exit.isFailure(exit) && Cause.hasDies(exit.cause)) {
      crashesHit++
      forceRelease(store, "r1")
      exit = yield* Effect.exit(resumeRollout("r1").pipe(Effect.provide(layerFor(crashes.shift()))))
    }
    if (Exit.isFailure(exit)) return yield* Effect.die(new Error(`run failed: ${Cause.pretty(exit.cause)}`))
    return { result: exit.value, crashesHit }
  })
  return runVirtual(program, { stepMs: 5, limitMs: 600_000 }).pipe(
    Effect.map(({ result, crashesHit }): RunOutcome => ({ result, fleet, plan, events, crashesHit, config, store }))
  )
}
