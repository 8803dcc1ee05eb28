import { Context, type Effect, Schema } from "effect"
import type { AnalysisConfig } from "../interpreter/RolloutConfig.js"

export class MetricsError extends Schema.TaggedError<MetricsError>()("MetricsError", {
  query: Schema.String,
  message: Schema.String
}) {}

export interface AnalysisScope {
  readonly rolloutId: string
  readonly wave: number
  readonly targets: ReadonlyArray<string>
}

/**
 * Answers analysis queries (Prometheus HTTP API in production, the simulated fleet in tests).
 * `query` reads the one number a threshold analysis compares. `sample` reads one target's value of
 * an already rendered query (per-target arguments, the canary judge): `undefined` when the query
 * has no data for it (a target whose agent is not scraped yet is missing data, not an error); a
 * provider without it cannot run those analyses, which then fail closed.
 */
export class MetricsProvider extends Context.Service<
  MetricsProvider,
  {
    readonly query: (analysis: AnalysisConfig, scope: AnalysisScope) => Effect.Effect<number, MetricsError>
    readonly sample?: (analysis: AnalysisConfig, query: string) => Effect.Effect<number | undefined, MetricsError>
  }
>()("@sluice/core/adapter/MetricsProvider") {}
