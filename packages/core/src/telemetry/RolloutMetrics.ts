import { Context, Effect, Layer, Metric } from "effect"
import type { AdapterError } from "../adapter/TargetAdapter.js"
import type { RolloutEvent } from "../events/RolloutEvent.js"

/**
 * Sluice's own metrics, on Effect's `Metric` (rendered in the Prometheus text exposition by
 * `PrometheusMetrics.format()` from `effect/observability`, which the CLI serves on
 * `--metrics-port`). Effect's metrics over `prom-client`: they live in the same runtime as the
 * engine and need no second registry. Labels are bounded on purpose — outcome, gate, operation,
 * state — never a target or a rollout id (per-target labels are how a controller's metrics run a
 * process out of memory). Optional: without this service the engine records nothing.
 */
export interface RolloutMetricsShape {
  /** Everything derived from the event stream: rollouts, waves, targets, gates. */
  readonly event: (event: RolloutEvent) => Effect.Effect<void>
  readonly adapterCall: (operation: AdapterError["operation"], ok: boolean, seconds: number) => Effect.Effect<void>
  readonly journalAppend: (entries: number, seconds: number) => Effect.Effect<void>
}

export class RolloutMetrics extends Context.Service<RolloutMetrics, RolloutMetricsShape>()(
  "@sluice/core/telemetry/RolloutMetrics"
) {
  static readonly layer: Layer.Layer<RolloutMetrics> = Layer.sync(RolloutMetrics, () => makeRolloutMetrics())
}

const seconds = Metric.exponentialBoundaries({ start: 0.001, factor: 4, count: 10 })
const waveSeconds = Metric.exponentialBoundaries({ start: 1, factor: 3, count: 9 })

const rolloutsStarted = Metric.counter("sluice_rollouts_started_total", {
  description: "Rollouts started or resumed by this process",
  incremental: true
})
const rolloutsFinished = Metric.counter("sluice_rollouts_finished_total", {
  description: "Rollouts that reached an outcome, by outcome",
  incremental: true
})
const rolloutsActive = Metric.gauge("sluice_rollouts_active", { description: "Rollouts this process is running now" })
const wavesStarted = Metric.counter("sluice_waves_started_total", { description: "Waves started", incremental: true })
const waveDuration = Metric.histogram("sluice_wave_duration_seconds", {
  description: "From a wave's start to all of its targets healthy",
  boundaries: waveSeconds
})
const targets = Metric.counter("sluice_targets_total", {
  description: "Target transitions, by state (updating, applied, failed, rolled_back, rollback_failed)",
  incremental: true
})
const rollbacks = Metric.counter("sluice_rollbacks_started_total", {
  description: "Rollbacks started (failure, abort or manual)",
  incremental: true
})
const gateDecisions = Metric.counter("sluice_gate_decisions_total", {
  description: "Gate decisions, by gate and result (allow, deny)",
  incremental: true
})
const adapterCalls = Metric.counter("sluice_adapter_calls_total", {
  description: "Adapter calls (each attempt), by operation and result (ok, error)",
  incremental: true
})
const adapterLatency = Metric.histogram("sluice_adapter_call_duration_seconds", {
  description: "Adapter call latency, by operation",
  boundaries: seconds
})
const journalAppends = Metric.counter("sluice_journal_appends_total", {
  description: "Durable journal writes (one per group commit)",
  incremental: true
})
const journalEntries = Metric.counter("sluice_journal_entries_total", {
  description: "Journal entries written",
  incremental: true
})
const journalLatency = Metric.histogram("sluice_journal_append_duration_seconds", {
  description: "Journal write latency (write and sync)",
  boundaries: seconds
})

/** Tagged metrics are built once per label set: building one per update costs more than the update. */
const tagged = <M extends Metric.Metric<number, unknown>>(metric: M) => {
  const cache = new Map<string, M>()
  return (attributes: Record<string, string>): M => {
    const key = JSON.stringify(attributes)
    let m = cache.get(key)
    if (m === undefined) {
      m = Metric.withAttributes(metric, attributes) as M
      cache.set(key, m)
    }
    return m
  }
}

export const makeRolloutMetrics = (): RolloutMetricsShape => {
  const finished = tagged(rolloutsFinished)
  const target = tagged(targets)
  const gate = tagged(gateDecisions)
  const calls = tagged(adapterCalls)
  const latency = tagged(adapterLatency)
  const waveStarts = new Map<string, number>()
  return {
    event: (e) => {
      switch (e.type) {
        case "rolloutStarted":
          return Effect.andThen(Metric.update(rolloutsStarted, 1), Metric.modify(rolloutsActive, 1))
        case "finished":
          return Effect.andThen(Metric.update(finished({ outcome: e.outcome }), 1), Metric.modify(rolloutsActive, -1))
        case "waveStarted":
          waveStarts.set(`${e.rolloutId}/${e.wave}`, e.at)
          return Metric.update(wavesStarted, 1)
        case "waveHealthy": {
          const key = `${e.rolloutId}/${e.wave}`
          const start = waveStarts.get(key)
          waveStarts.delete(key)
          return start === undefined ? Effect.void : Metric.update(waveDuration, (e.at - start) / 1000)
        }
        case "targetUpdating":
          return Metric.update(target({ state: "updating" }), 1)
        case "targetApplied":
          return Metric.update(target({ state: "applied" }), 1)
        case "targetFailed":
          return Metric.update(target({ state: "failed" }), 1)
        case "targetRolledBack":
          return Metric.update(target({ state: e.ok ? "rolled_back" : "rollback_failed" }), 1)
        case "rollbackStarted":
          return Metric.update(rollbacks, 1)
        case "gateDecided":
          return Metric.update(gate({ gate: e.gate, result: e.allow ? "allow" : "deny" }), 1)
        default:
          return Effect.void
      }
    },
    adapterCall: (operation, ok, s) =>
      Effect.andThen(
        Metric.update(calls({ operation, result: ok ? "ok" : "error" }), 1),
        Metric.update(latency({ operation }), s)
      ),
    journalAppend: (entries, s) =>
      Effect.all(
        [Metric.update(journalAppends, 1), Metric.update(journalEntries, entries), Metric.update(journalLatency, s)],
        {
          discard: true
        }
      )
  }
}
