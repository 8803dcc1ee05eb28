import { type PolicyDecision, PolicyEngine, type PolicyRequest } from "@sluice/core"
import { Clock, Context, Effect, Layer, PubSub, type Scope, Stream } from "effect"
import { type BundleOptions, type BundleSource, builtinBundleDir, loadBundle, type LoadedBundle } from "./bundle.js"
import type { BundleLoadError } from "./errors.js"
import { type EngineDecision, type EvaluatorOptions, makeEvaluator, type PolicyEvaluator } from "./evaluator.js"

/** One evaluated decision, for the audit trail / event stream. */
export interface DecisionLogEntry {
  /** Revision of every bundle evaluated, comma-separated in bundle order. */
  readonly bundleRevision: string
  readonly bundles: ReadonlyArray<{ readonly name: string; readonly revision: string }>
  /** SHA-256 (hex) of the exact JSON input the policies saw. */
  readonly inputSha256: string
  readonly decision: EngineDecision
  readonly targetId: string
  readonly image: string
  /** Evaluation time (RFC 3339, from Effect's Clock). */
  readonly at: string
}

/**
 * Where decision-log entries go. Subscribe to `entries` (or `PubSub.subscribe(pubsub)`) before
 * evaluations start; entries published while nobody subscribes are dropped.
 */
export class PolicyDecisionLog extends Context.Service<
  PolicyDecisionLog,
  {
    readonly pubsub: PubSub.PubSub<DecisionLogEntry>
    readonly entries: Stream.Stream<DecisionLogEntry>
  }
>()("@sluice/policies/PolicyDecisionLog") {
  /** An unbounded in-process PubSub, shut down with the layer. */
  static readonly layer: Layer.Layer<PolicyDecisionLog> = Layer.effect(
    PolicyDecisionLog,
    Effect.gen(function* () {
      const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<DecisionLogEntry>(), PubSub.shutdown)
      return PolicyDecisionLog.of({ pubsub, entries: Stream.fromPubSub(pubsub) })
    })
  )
}

/**
 * `evaluationTimeoutMs`: how long one evaluation may take (default 5 s); an evaluation still running
 * then is stopped and denies with `engine/timeout` (policies run in a worker thread for that).
 */
export interface PolicyEngineOptions extends BundleOptions, EvaluatorOptions {
  /** Called synchronously with every decision-log entry (in addition to the PubSub). */
  readonly onDecision?: (entry: DecisionLogEntry) => void
}

/** The `PolicyEngine` service plus what the engine knows about its bundles. */
export interface LivePolicyEngine {
  readonly evaluate: (request: PolicyRequest) => Effect.Effect<EngineDecision>
  readonly evaluator: PolicyEvaluator
}

/** Loads every source; a source that fails to load becomes a bundle that denies (fail closed). */
export const loadBundles = (
  sources: ReadonlyArray<BundleSource>,
  options: BundleOptions = {}
): Effect.Effect<ReadonlyArray<LoadedBundle | BundleLoadError>> =>
  Effect.forEach(sources, (source) =>
    loadBundle(source, options).pipe(
      Effect.catch((error) =>
        Effect.logWarning(
          `policy bundle ${error.bundle} failed to load; every evaluation will deny`,
          error.message
        ).pipe(Effect.as(error as LoadedBundle | BundleLoadError))
      )
    )
  )

const rfc3339Millis = (ms: number) => new Date(ms).toISOString()

/**
 * Builds the engine over already loaded bundles (see {@link loadBundles}); its evaluation worker is
 * stopped when the scope closes.
 */
export const makePolicyEngine = Effect.fnUntraced(function* (
  loaded: ReadonlyArray<LoadedBundle | BundleLoadError>,
  options: Pick<PolicyEngineOptions, "onDecision" | "evaluationTimeoutMs" | "workerStartTimeoutMs"> = {}
): Effect.fn.Return<LivePolicyEngine, never, PolicyDecisionLog | Scope.Scope> {
  const log = yield* PolicyDecisionLog
  const evaluator = yield* Effect.acquireRelease(
    Effect.sync(() => makeEvaluator(loaded, options)),
    (e) => Effect.sync(() => e.close())
  )
  const bundles = evaluator.bundles.map((b) => ({ name: b.name, revision: b.revision }))
  const onDecision = options.onDecision

  const evaluate = Effect.fnUntraced(function* (request: PolicyRequest) {
    const now = yield* Clock.currentTimeMillis
    const { decision, inputSha256 } = yield* evaluator.evaluateRequestEffect(request, now)
    const entry: DecisionLogEntry = {
      bundleRevision: evaluator.bundleRevision,
      bundles,
      inputSha256,
      decision,
      targetId: request.targetId,
      image: request.image,
      at: rfc3339Millis(now)
    }
    yield* PubSub.publish(log.pubsub, entry)
    if (onDecision !== undefined) {
      yield* Effect.sync(() => onDecision(entry)).pipe(
        Effect.catchCause((cause) => Effect.logWarning("decision-log callback failed", cause))
      )
    }
    return decision
  })

  return { evaluate, evaluator }
})

const engineLayer = (sources: ReadonlyArray<BundleSource>, options: PolicyEngineOptions) =>
  Layer.effect(
    PolicyEngine,
    Effect.gen(function* () {
      const loaded = yield* loadBundles(sources, options)
      const engine = yield* makePolicyEngine(loaded, options)
      return PolicyEngine.of({
        evaluate: (request): Effect.Effect<PolicyDecision> => engine.evaluate(request),
        revision: engine.evaluator.bundleRevision
      })
    })
  )

export const PolicyEngineLive = {
  /**
   * `PolicyEngine` over one or more bundles (decisions merged: allow only if every bundle allows;
   * deny/warn concatenated, each violation tagged with its bundle), plus its `PolicyDecisionLog`.
   * Never fails to build: a bundle that cannot be loaded denies every evaluation with the reason.
   */
  layerFromBundles: (
    sources: ReadonlyArray<BundleSource>,
    options: PolicyEngineOptions = {}
  ): Layer.Layer<PolicyEngine | PolicyDecisionLog> =>
    engineLayer(sources, options).pipe(Layer.provideMerge(PolicyDecisionLog.layer)),

  /** Like {@link PolicyEngineLive.layerFromBundles}, publishing into a `PolicyDecisionLog` you provide. */
  layerFromBundlesWithLog: (
    sources: ReadonlyArray<BundleSource>,
    options: PolicyEngineOptions = {}
  ): Layer.Layer<PolicyEngine, never, PolicyDecisionLog> => engineLayer(sources, options),

  /**
   * The built-in bundle (`@sluice/policies/dist`). `data` (an object or a JSON/YAML file path) is
   * deep-merged over the built-in `data.json` (registries, severity threshold, exceptions, ...).
   */
  layerBuiltin: (options: PolicyEngineOptions & { readonly data?: unknown } = {}) =>
    PolicyEngineLive.layerFromBundles(
      [{ path: builtinBundleDir, name: "sluice", ...(options.data !== undefined ? { data: options.data } : {}) }],
      options
    ),

  /** The built-in bundle with its default data. */
  get layer(): Layer.Layer<PolicyEngine | PolicyDecisionLog> {
    return PolicyEngineLive.layerBuiltin()
  }
}
