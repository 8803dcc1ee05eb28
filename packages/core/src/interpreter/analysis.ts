import { Effect } from "effect"
import type { MetricsError, MetricsProvider } from "../adapter/MetricsProvider.js"
import { renderQuery } from "../adapter/PrometheusMetrics.js"
import { judge, type MetricSample } from "../analysis/judge/judge.js"
import {
  addMeasurement,
  assessRun,
  describeTally,
  emptyTally,
  type MeasurementPhase,
  type RunTally
} from "../analysis/run.js"
import type { AnalysisVerdict, JudgementVerdict } from "../analysis/verdict.js"
import type { Target } from "../domain/Target.js"
import type { MachineEvent } from "../machine/types.js"
import type { Plan } from "../plan/Plan.js"
import { evaluateSuccessCondition, parseSuccessCondition } from "../spec/SuccessCondition.js"
import type { RolloutHeader } from "../store/RolloutStore.js"
import type { AnalysisArgConfig, AnalysisConfig } from "./RolloutConfig.js"
import type { Emitter } from "./emitter.js"

/** Queries of one measurement at once: per-target analyses send one query per target and metric. */
const QUERY_CONCURRENCY = 8

/**
 * At most this many targets per side of a judgement: each is one query per metric and measurement,
 * and a rank test of 200 against 200 already resolves any shift worth a rollback.
 */
export const MAX_JUDGED_TARGETS = 200

/** Evenly spaced, deterministic: the same plan always judges the same targets. */
const spread = (ids: ReadonlyArray<string>, max: number) =>
  ids.length <= max ? ids : Array.from({ length: max }, (_, i) => ids[Math.floor((i * ids.length) / max)]!)

/**
 * The canary and its baseline for a wave's judge: the wave's targets, and the targets of later
 * waves (not updated yet) that share one of the canary's topology values, so a zone's own load does
 * not read as a regression. Without a topology key, every target of a later wave. Each side is
 * sorted and thinned evenly to `max` targets. Pure.
 */
export const canaryAndBaseline = (
  plan: Pick<Plan, "waves" | "targets" | "topologyKey">,
  wave: number,
  max: number = MAX_JUDGED_TARGETS
): { readonly canary: ReadonlyArray<string>; readonly baseline: ReadonlyArray<string> } => {
  const canary = [...(plan.waves[wave]?.targets ?? [])].sort()
  const later = plan.waves.slice(wave + 1).flatMap((w) => w.targets)
  const key = plan.topologyKey
  if (key === undefined) return { canary: spread(canary, max), baseline: spread([...later].sort(), max) }
  const labels = new Map(plan.targets.map((t) => [t.id, t.labels] as const))
  const topologyOf = (id: string) => labels.get(id)?.[key] ?? ""
  const values = new Set(canary.map(topologyOf))
  return {
    canary: spread(canary, max),
    baseline: spread(later.filter((id) => values.has(topologyOf(id))).sort(), max)
  }
}

/** A label value inside a PromQL string literal: backslashes and quotes escaped. */
const promString = (s: string) => s.replaceAll("\\", "\\\\").replaceAll('"', '\\"')

/**
 * Fills `{{args.<name>}}` (a fixed value, or the target's label: empty when it has none) and
 * `{{target}}` (the target's id), then `{{rollout}}` and `{{wave}}`.
 */
export const renderForTarget = (
  query: string,
  args: ReadonlyArray<AnalysisArgConfig>,
  scope: { readonly rolloutId: string; readonly wave: number },
  target?: { readonly id: string; readonly labels: Readonly<Record<string, string>> }
) => {
  let q = query
  for (const arg of args) {
    const value = arg.value ?? (target === undefined ? "" : (target.labels[arg.fromLabel ?? ""] ?? ""))
    q = q.replace(new RegExp(`\\{\\{\\s*args\\.${arg.name}\\s*\\}\\}`, "g"), promString(value))
  }
  if (target !== undefined) q = q.replace(/\{\{\s*target\s*\}\}/g, promString(target.id))
  return renderQuery(q, { ...scope, targets: [] })
}

interface Measurement {
  readonly phase: MeasurementPhase
  readonly message: string
  readonly judgement?: JudgementVerdict
}

/**
 * The analysis gate after a wave: each named analysis runs its measurements with Argo Rollouts'
 * limits (`analysis/run.ts`) and must end Successful. Fails closed: an unknown analysis, no metrics
 * provider (or one that cannot read per target when the analysis needs it), a run that fails, is
 * inconclusive or errs past its limit fails the wave. Every decision carries its verdict (with the
 * canary judgement) in the `gateDecided` event and in the journaled machine event.
 */
export const makeAnalysis = (deps: {
  readonly header: RolloutHeader
  readonly metrics: MetricsProvider["Service"] | undefined
  readonly events: Emitter
  readonly send: (event: MachineEvent) => Effect.Effect<void>
  /** The run's targets by id (the plan's), for the labels a per-target query renders. */
  readonly targets: ReadonlyMap<string, Target>
}) => {
  const { header, metrics, events, send, targets } = deps
  const { config, rolloutId } = header
  const targetOf = (id: string) => ({ id, labels: targets.get(id)?.labels ?? {} })

  /** One target's value of a rendered query: NaN when it has no data (the judge drops it). */
  const sampleOne = (
    sample: NonNullable<MetricsProvider["Service"]["sample"]>,
    analysis: AnalysisConfig,
    query: string
  ): Effect.Effect<number, MetricsError> => Effect.map(sample(analysis, query), (v) => v ?? Number.NaN)

  const measureThreshold = (
    analysis: AnalysisConfig,
    provider: MetricsProvider["Service"],
    wave: number
  ): Effect.Effect<Measurement> => {
    const condition = analysis.condition ?? parseSuccessCondition(analysis.successCondition)
    if (condition === undefined)
      return Effect.succeed({ phase: "Error", message: `cannot parse successCondition "${analysis.successCondition}"` })
    const args = analysis.args ?? []
    const scope = { rolloutId, wave }
    const targets = header.machineInput.waves[wave]?.targets ?? []
    if (!args.some((a) => a.fromLabel !== undefined)) {
      const query = renderForTarget(analysis.query, args, scope)
      return provider.query({ ...analysis, query }, { ...scope, targets }).pipe(
        Effect.map(
          (value): Measurement =>
            evaluateSuccessCondition(condition, value)
              ? { phase: "Successful", message: `result ${value}` }
              : { phase: "Failed", message: `result ${value} does not satisfy ${analysis.successCondition}` }
        ),
        Effect.catch((e) => Effect.succeed<Measurement>({ phase: "Error", message: `query failed: ${e.message}` }))
      )
    }
    // An argument from a label: the query is per target, and every target must satisfy the condition.
    const sample = provider.sample!
    return Effect.forEach(
      targets,
      (id) => sampleOne(sample, analysis, renderForTarget(analysis.query, args, scope, targetOf(id))),
      { concurrency: QUERY_CONCURRENCY }
    ).pipe(
      Effect.map((values): Measurement => {
        const missing = targets.filter((_, i) => Number.isNaN(values[i]!))
        if (missing.length > 0)
          return { phase: "Error", message: `no data for ${missing.length} target(s), e.g. ${missing[0]}` }
        const bad = targets.flatMap((id, i) =>
          evaluateSuccessCondition(condition, values[i]!) ? [] : [[id, values[i]!]]
        )
        return bad.length === 0
          ? { phase: "Successful", message: `${targets.length} target(s) satisfy ${analysis.successCondition}` }
          : {
              phase: "Failed",
              message: `${bad.length} target(s) do not satisfy ${analysis.successCondition}, e.g. ${bad[0]![0]}: result ${bad[0]![1]}`
            }
      }),
      Effect.catch((e) => Effect.succeed<Measurement>({ phase: "Error", message: `query failed: ${e.message}` }))
    )
  }

  const measureJudge = (
    analysis: AnalysisConfig,
    spec: NonNullable<AnalysisConfig["judge"]>,
    sample: NonNullable<MetricsProvider["Service"]["sample"]>,
    wave: number
  ): Effect.Effect<Measurement> => {
    const { canary, baseline } = canaryAndBaseline(header.plan, wave)
    const args = analysis.args ?? []
    const scope = { rolloutId, wave }
    const readAll = (query: string, ids: ReadonlyArray<string>) =>
      Effect.forEach(ids, (id) => sampleOne(sample, analysis, renderForTarget(query, args, scope, targetOf(id))), {
        concurrency: QUERY_CONCURRENCY
      })
    return Effect.forEach(spec.metrics, (metric) =>
      Effect.all([readAll(metric.query, canary), readAll(metric.query, baseline)]).pipe(
        Effect.map(([c, b]): MetricSample => ({ metric, canary: c, baseline: b }))
      )
    ).pipe(
      Effect.map((samples): Measurement => {
        const j = judge(samples, {
          confidence: spec.confidence,
          tolerance: spec.tolerance,
          thresholds: spec.thresholds,
          ...(spec.groupWeights === undefined ? {} : { groupWeights: spec.groupWeights })
        })
        const phase: MeasurementPhase =
          j.result === "pass"
            ? "Successful"
            : j.result === "marginal"
              ? "Inconclusive"
              : j.result === "fail"
                ? "Failed"
                : "Error"
        // The values judged go with the verdict, so the report page can plot canary against baseline.
        const metrics = j.metrics.map((m, i) => ({
          ...m,
          canaryValues: samples[i]!.canary.filter(Number.isFinite),
          baselineValues: samples[i]!.baseline.filter(Number.isFinite)
        }))
        const judgement: JudgementVerdict = { ...j, metrics, canary, baseline }
        return {
          phase,
          message: `judgement ${j.result} (${canary.length} canary, ${baseline.length} baseline targets): ${j.reason}`,
          judgement
        }
      }),
      Effect.catch((e) => Effect.succeed<Measurement>({ phase: "Error", message: `query failed: ${e.message}` }))
    )
  }

  /** Runs one analysis to its end; `undefined` when it cannot run at all (the reason, failing closed). */
  const runOne = Effect.fnUntraced(function* (
    analysis: AnalysisConfig,
    provider: MetricsProvider["Service"],
    wave: number
  ) {
    const needsSample = analysis.judge !== undefined || (analysis.args ?? []).some((a) => a.fromLabel !== undefined)
    if (needsSample && provider.sample === undefined) {
      return {
        verdict: undefined,
        reason: `analysis "${analysis.name}" reads each target's value and the metrics provider cannot (fail closed)`
      }
    }
    const limits = {
      count: analysis.count,
      failureLimit: analysis.failureLimit ?? 0,
      inconclusiveLimit: analysis.inconclusiveLimit ?? 0,
      consecutiveErrorLimit: analysis.consecutiveErrorLimit ?? 4
    }
    if ((analysis.initialDelayMs ?? 0) > 0) yield* Effect.sleep(analysis.initialDelayMs!)
    let tally: RunTally = emptyTally
    for (;;) {
      const m: Measurement =
        analysis.judge === undefined
          ? yield* measureThreshold(analysis, provider, wave)
          : yield* measureJudge(analysis, analysis.judge, provider.sample!, wave)
      tally = addMeasurement(tally, m.phase)
      const phase = assessRun(tally, limits)
      if (phase === "Running") {
        yield* Effect.sleep(analysis.intervalMs)
        continue
      }
      const why =
        phase === "Successful"
          ? `${describeTally(tally)}`
          : phase === "Error"
            ? `more than ${limits.consecutiveErrorLimit} measurement(s) in a row could not be taken (consecutiveErrorLimit)`
            : phase === "Failed"
              ? `more than ${limits.failureLimit} measurement(s) failed (failureLimit)`
              : `more than ${limits.inconclusiveLimit} measurement(s) were inconclusive (inconclusiveLimit; Sluice fails an inconclusive wave)`
      const reason =
        phase === "Successful"
          ? `analysis "${analysis.name}" successful: ${why}`
          : `analysis "${analysis.name}" ${phase.toLowerCase()}: ${why}; last measurement: ${m.message}`
      const verdict: AnalysisVerdict = {
        analysis: analysis.name,
        phase,
        successful: tally.successful,
        failed: tally.failed,
        inconclusive: tally.inconclusive,
        errors: tally.errors,
        reason,
        ...(m.judgement === undefined ? {} : { judgement: m.judgement })
      }
      return { verdict, reason }
    }
  })

  // Untraced: the interpreter runs it under its `sluice.analysis` span, which the decision annotates.
  return Effect.fnUntraced(function* (wave: number, names: ReadonlyArray<string>) {
    const verdicts: Array<AnalysisVerdict> = []
    for (const name of names) {
      const analysis = config.gates.analysis.find((a) => a.name === name)
      const fail = (reason: string, verdict?: AnalysisVerdict) =>
        events
          .emit({
            type: "gateDecided",
            gate: "analysis",
            wave,
            allow: false,
            violations: [{ targetId: "*", rule: `analysis/${name}`, message: reason }],
            warnings: [],
            ...(verdict === undefined ? {} : { analysis: verdict })
          })
          .pipe(
            Effect.andThen(
              send({
                type: "ANALYSIS_FAILED",
                wave,
                reason,
                ...(verdict === undefined ? {} : { verdicts: [...verdicts, verdict] })
              })
            )
          )
      if (analysis === undefined) return yield* fail(`analysis "${name}" is not defined in spec.gates.analysis`)
      if (metrics === undefined)
        return yield* fail(`analysis "${name}" needs a metrics provider and none is configured (fail closed)`)
      const { verdict, reason } = yield* runOne(analysis, metrics, wave)
      if (verdict === undefined || verdict.phase !== "Successful") return yield* fail(reason, verdict)
      verdicts.push(verdict)
      yield* events.emit({
        type: "gateDecided",
        gate: "analysis",
        wave,
        allow: true,
        violations: [],
        warnings: [],
        analysis: verdict
      })
    }
    yield* send({ type: "ANALYSIS_PASSED", wave, ...(verdicts.length === 0 ? {} : { verdicts }) })
  })
}
