import { Schema } from "effect"

/**
 * What an analysis run concluded, as the `gateDecided` event and the journal (`ANALYSIS_PASSED` /
 * `ANALYSIS_FAILED`) carry it: the run's phase and tally, and the last canary judgement with every
 * metric's classification, so an operator sees why a wave was rolled back.
 */
export const MetricVerdict = Schema.Struct({
  name: Schema.String,
  group: Schema.String,
  classification: Schema.Literals(["High", "Low", "Pass", "NoData"]),
  failed: Schema.Boolean,
  critical: Schema.Boolean,
  canaryCount: Schema.Number,
  baselineCount: Schema.Number,
  p: Schema.optionalKey(Schema.Number),
  u: Schema.optionalKey(Schema.Number),
  method: Schema.optionalKey(Schema.Literals(["exact", "normal"])),
  estimate: Schema.optionalKey(Schema.Number),
  canaryMedian: Schema.optionalKey(Schema.Number),
  baselineMedian: Schema.optionalKey(Schema.Number),
  reason: Schema.String,
  /** The values compared (finite ones, at most 200 targets a side): what the report page plots. */
  canaryValues: Schema.optionalKey(Schema.Array(Schema.Number)),
  baselineValues: Schema.optionalKey(Schema.Array(Schema.Number))
})

export const JudgementVerdict = Schema.Struct({
  result: Schema.Literals(["pass", "marginal", "fail", "nodata"]),
  score: Schema.Number,
  metrics: Schema.Array(MetricVerdict),
  reason: Schema.String,
  /** Which targets were compared. */
  canary: Schema.Array(Schema.String),
  baseline: Schema.Array(Schema.String)
})
export type JudgementVerdict = typeof JudgementVerdict.Type

export const AnalysisVerdict = Schema.Struct({
  analysis: Schema.String,
  phase: Schema.Literals(["Successful", "Failed", "Inconclusive", "Error"]),
  successful: Schema.Number,
  failed: Schema.Number,
  inconclusive: Schema.Number,
  errors: Schema.Number,
  reason: Schema.String,
  judgement: Schema.optionalKey(JudgementVerdict)
})
export type AnalysisVerdict = typeof AnalysisVerdict.Type
