import { mannWhitney, medianOf } from "./mannWhitney.js"

/**
 * A Kayenta-style canary judge (after Netflix's NetflixACAJudge: a Mann–Whitney classifier per
 * metric, then a weighted sum over metric groups), for agents that take no traffic: the "canary"
 * sample is one value per updated target, the "baseline" one value per target not yet updated.
 * Pure: data in, a judgement out.
 */

/** Which move of the canary against the baseline is bad. */
export type Direction = "increase" | "decrease" | "either"

export type Classification = "High" | "Low" | "Pass" | "NoData"

export interface JudgeMetric {
  readonly name: string
  readonly direction: Direction
  /** A critical metric that fails fails the whole judgement, whatever the score. */
  readonly critical: boolean
  /** The group it scores in (its own name when none). */
  readonly group?: string
}

export interface JudgeOptions {
  /** Confidence level of the two-sided test: a shift counts when p < 1 − confidence. */
  readonly confidence: number
  /**
   * Relative tolerance: a significant shift whose Hodges–Lehmann estimate stays within
   * tolerance × |median(baseline)| is still a Pass (too small to matter).
   */
  readonly tolerance: number
  /** Score (0–100) at or above `pass` passes, at or above `marginal` is marginal, below fails. */
  readonly thresholds: { readonly pass: number; readonly marginal: number }
  /** Weight per group; a group not listed weighs 1. */
  readonly groupWeights?: Readonly<Record<string, number>>
}

export const defaultJudgeOptions: JudgeOptions = {
  confidence: 0.98,
  tolerance: 0.25,
  thresholds: { pass: 95, marginal: 75 }
}

export interface MetricClassification {
  readonly name: string
  readonly group: string
  readonly classification: Classification
  /** The classification is the bad one for the metric's direction. */
  readonly failed: boolean
  readonly critical: boolean
  readonly canaryCount: number
  readonly baselineCount: number
  /** Absent with NoData. */
  readonly p?: number
  readonly u?: number
  readonly method?: "exact" | "normal"
  /** Hodges–Lehmann shift, canary − baseline. */
  readonly estimate?: number
  readonly canaryMedian?: number
  readonly baselineMedian?: number
  readonly reason: string
}

export interface Judgement {
  /** `nodata`: no metric had data on both sides (nothing to judge). */
  readonly result: "pass" | "marginal" | "fail" | "nodata"
  /** 0–100; 0 when a critical metric failed or there was no data. */
  readonly score: number
  readonly metrics: ReadonlyArray<MetricClassification>
  readonly reason: string
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(4))

/** Classifies one metric: canary against baseline (non-finite values are dropped as no data). */
export const classifyMetric = (
  metric: JudgeMetric,
  canaryRaw: ReadonlyArray<number>,
  baselineRaw: ReadonlyArray<number>,
  options: Pick<JudgeOptions, "confidence" | "tolerance">
): MetricClassification => {
  const canary = canaryRaw.filter(Number.isFinite)
  const baseline = baselineRaw.filter(Number.isFinite)
  const base = {
    name: metric.name,
    group: metric.group ?? metric.name,
    critical: metric.critical,
    canaryCount: canary.length,
    baselineCount: baseline.length
  }
  if (canary.length === 0 || baseline.length === 0) {
    const side = canary.length === 0 ? (baseline.length === 0 ? "canary nor baseline" : "canary") : "baseline"
    return { ...base, classification: "NoData", failed: false, reason: `no data for the ${side}` }
  }
  const test = mannWhitney(canary, baseline)
  const canaryMedian = medianOf(canary)
  const baselineMedian = medianOf(baseline)
  const band = options.tolerance * Math.abs(baselineMedian)
  const alpha = 1 - options.confidence
  const significant = test.p < alpha
  const classification: Classification = !significant
    ? "Pass"
    : test.estimate > band
      ? "High"
      : test.estimate < -band
        ? "Low"
        : "Pass"
  const failed =
    (classification === "High" && metric.direction !== "decrease") ||
    (classification === "Low" && metric.direction !== "increase")
  const stats = `shift ${fmt(test.estimate)} (canary median ${fmt(canaryMedian)}, baseline ${fmt(baselineMedian)}), p=${test.p.toPrecision(3)} ${test.method}`
  const reason = !significant
    ? `no significant difference: ${stats}, alpha ${fmt(alpha)}`
    : classification === "Pass"
      ? `significant but within the tolerance band ±${fmt(band)}: ${stats}`
      : `${classification === "High" ? "higher" : "lower"} than the baseline beyond ±${fmt(band)}: ${stats}${failed ? "" : ` (a ${metric.direction} is the bad direction)`}`
  return {
    ...base,
    classification,
    failed,
    p: test.p,
    u: test.u,
    method: test.method,
    estimate: test.estimate,
    canaryMedian,
    baselineMedian,
    reason
  }
}

export interface MetricSample {
  readonly metric: JudgeMetric
  readonly canary: ReadonlyArray<number>
  readonly baseline: ReadonlyArray<number>
}

/**
 * Judges every metric, then scores them: each group's score is the share of its metrics with data
 * that did not fail; the total is the weighted mean of the groups with data, × 100. A critical
 * metric that failed makes the judgement `fail` with score 0 (Kayenta's critical metrics).
 */
export const judge = (samples: ReadonlyArray<MetricSample>, options: JudgeOptions = defaultJudgeOptions): Judgement => {
  const metrics = samples.map((s) => classifyMetric(s.metric, s.canary, s.baseline, options))
  const critical = metrics.filter((m) => m.critical && m.failed)
  if (critical.length > 0) {
    return {
      result: "fail",
      score: 0,
      metrics,
      reason: `critical metric ${critical.map((m) => `"${m.name}" ${m.classification}`).join(", ")}: ${critical[0]!.reason}`
    }
  }
  const groups = new Map<string, { passed: number; total: number }>()
  for (const m of metrics) {
    if (m.classification === "NoData") continue
    const g = groups.get(m.group) ?? { passed: 0, total: 0 }
    g.total++
    if (!m.failed) g.passed++
    groups.set(m.group, g)
  }
  if (groups.size === 0) {
    return { result: "nodata", score: 0, metrics, reason: "no metric had data for both canary and baseline" }
  }
  let weighted = 0
  let weights = 0
  for (const [name, g] of groups) {
    const w = options.groupWeights?.[name] ?? 1
    weighted += (w * g.passed) / g.total
    weights += w
  }
  const score = weights === 0 ? 0 : (100 * weighted) / weights
  const result = score >= options.thresholds.pass ? "pass" : score >= options.thresholds.marginal ? "marginal" : "fail"
  const failedNames = metrics.filter((m) => m.failed).map((m) => `"${m.name}" ${m.classification}`)
  return {
    result,
    score,
    metrics,
    reason:
      `score ${fmt(score)} (pass ≥ ${fmt(options.thresholds.pass)}, marginal ≥ ${fmt(options.thresholds.marginal)})` +
      (failedNames.length === 0 ? "" : `; failed: ${failedNames.join(", ")}`)
  }
}
