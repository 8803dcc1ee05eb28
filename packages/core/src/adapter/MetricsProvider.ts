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

const condition = /^\s*result\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/

/** Parses `result < 0.05`-style conditions; `undefined` when malformed (the gate then fails closed). */
export const parseCondition = (text: string): ((value: number) => boolean) | undefined => {
  const m = condition.exec(text)
  if (m === null) return undefined
  const bound = Number(m[2])
  switch (m[1]) {
    case "<":
      return (v) => v < bound
    case "<=":
      return (v) => v <= bound
    case ">":
      return (v) => v > bound
    case ">=":
      return (v) => v >= bound
    case "==":
      return (v) => v === bound
    default:
      return (v) => v !== bound
  }
}
