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

/** Answers analysis queries (Prometheus HTTP API in production, the simulated fleet in tests). */
export class MetricsProvider extends Context.Service<
  MetricsProvider,
  { readonly query: (analysis: AnalysisConfig, scope: AnalysisScope) => Effect.Effect<number, MetricsError> }
>()("@sluice/core/adapter/MetricsProvider") {}
