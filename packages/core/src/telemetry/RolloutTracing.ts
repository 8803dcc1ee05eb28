import { Clock, Effect, Exit, Layer, References, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import type { RolloutEvent } from "../events/RolloutEvent.js"
import type { Outcome } from "../machine/types.js"
import type { RolloutHeader } from "../store/RolloutStore.js"

/**
 * Sluice's spans, on Effect's `Tracer`: whatever tracer the run is given (the OTLP tracer of
 * `effect/observability`, or an embedder's own) receives them. One span per rollout, per wave, per
 * gate decision and analysis, per batch of updates or rollbacks the machine issues, and, on fleets
 * of at most {@link TARGET_SPAN_LIMIT} targets, per target operation (apply, health verification,
 * rollback). Above that a rollout of 100,000 targets would be 300,000 spans in one trace, more than
 * a trace backend shows or keeps; the batch spans carry the counts instead, and a failed target is
 * a span event on its batch's span.
 *
 * Attributes follow the OpenTelemetry semantic conventions where one fits (both registries are in
 * development status; names as of semconv 1.37): `deployment.id` / `deployment.name` /
 * `deployment.status` on the rollout, `cicd.pipeline.name` / `cicd.pipeline.run.id` /
 * `cicd.pipeline.result` on the rollout as a pipeline run, `cicd.pipeline.task.name` /
 * `cicd.pipeline.task.run.id` / `cicd.pipeline.task.type` / `cicd.pipeline.task.run.result` on
 * each wave as a task of that run; the rest under `sluice.*`.
 *
 * Free when no tracer is installed: Effect's default tracer builds native spans nobody reads, so
 * without a tracer of its own (or with `References.TracerEnabled` off) the run gets
 * {@link disabledTracing}, whose wrappers return the effect they are given.
 */
export interface RolloutTracing {
  readonly enabled: boolean
  /** Whether target operations get a span each (fleets up to {@link TARGET_SPAN_LIMIT} targets). */
  readonly perTarget: boolean
  /** Runs `effect` under the rollout's span (the parent of every span the run makes). */
  readonly inRollout: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A span under wave `wave`'s span (created on first use: a resumed run continues its wave). */
  readonly inWave: (
    wave: number,
    name: string,
    attributes?: Record<string, unknown>
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A span under the rollback's span (the rollback phase, started by its note or on first use). */
  readonly inRollback: (
    name: string,
    attributes?: Record<string, unknown>
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A span directly under the rollout's span (the pre-flight gates, finalize). */
  readonly inRun: (
    name: string,
    attributes?: Record<string, unknown>
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** A per-target span under the current span; only called when {@link perTarget}. */
  readonly target: (
    name: string,
    targetId: string,
    wave: number
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The rollout's events that shape its spans (waves, gates, failures, the outcome). */
  readonly event: (event: RolloutEvent) => Effect.Effect<void>
}

/** Fleets larger than this get batch-level spans only (see {@link RolloutTracing}). */
export const TARGET_SPAN_LIMIT = 1000

const identity = <A, E, R>(effect: Effect.Effect<A, E, R>) => effect

export const disabledTracing: RolloutTracing = {
  enabled: false,
  perTarget: false,
  inRollout: identity,
  inWave: () => identity,
  inRollback: () => identity,
  inRun: () => identity,
  target: () => identity,
  event: () => Effect.void
}

/** OpenTelemetry's `cicd.pipeline.result` values for each outcome. */
const pipelineResult: Record<Outcome, string> = {
  completed: "success",
  blocked: "failure",
  failed: "failure",
  rolledBack: "failure",
  rollbackFailed: "error",
  aborted: "cancellation"
}

/** A span's end as an Exit: a failed outcome marks the span as an error, with the reason. */
class SpanFailure extends Error {
  override readonly name = "RolloutFailure"
}
const failedExit = (reason: string) => Exit.fail(new SpanFailure(reason))

const specName = (spec: unknown): string | undefined => {
  const metadata = (spec as { metadata?: { name?: unknown } } | null | undefined)?.metadata
  return typeof metadata?.name === "string" ? metadata.name : undefined
}

/**
 * The tracing of one run of a rollout (a resume is a run of its own: its spans form a second trace
 * with the same `deployment.id`). Scoped: spans still open when the run ends (a crash, an
 * interruption) are ended with it.
 */
export const makeRolloutTracing = Effect.fnUntraced(function* (header: RolloutHeader, resumed: boolean) {
  const tracer = yield* Effect.tracer
  if (!(yield* References.TracerEnabled) || tracer === Tracer.nativeTracer) return disabledTracing
  const { rolloutId, plan } = header
  const targetCount = header.machineInput.waves.reduce((n, w) => n + w.targets.length, 0)
  const name = specName(header.spec) ?? rolloutId
  const rollout = yield* Effect.makeSpan("sluice.rollout", {
    kind: "internal",
    attributes: {
      "deployment.id": rolloutId,
      "deployment.name": name,
      "cicd.pipeline.name": name,
      "cicd.pipeline.run.id": rolloutId,
      "cicd.pipeline.action.name": "RUN",
      "sluice.image": header.image,
      "sluice.adapter": header.adapter,
      "sluice.targets": targetCount,
      "sluice.waves": plan.waves.length,
      "sluice.resumed": resumed
    }
  })
  const waves = new Map<number, Tracer.Span>()
  let rollback: Tracer.Span | undefined
  let failure: string | undefined

  const now = Clock.currentTimeNanos
  const open = (span: Tracer.Span) => span.status._tag === "Started"
  const waveSpan = (wave: number) =>
    Effect.suspend(() => {
      const existing = waves.get(wave)
      if (existing !== undefined) return Effect.succeed(existing)
      const w = header.plan.waves[wave]
      return Effect.tap(
        Effect.makeSpan("sluice.wave", {
          parent: rollout,
          attributes: {
            "cicd.pipeline.task.name": `wave ${wave}`,
            "cicd.pipeline.task.run.id": `${rolloutId}/wave/${wave}`,
            "cicd.pipeline.task.type": "deploy",
            "deployment.id": rolloutId,
            "sluice.wave": wave,
            "sluice.wave.kind": w?.kind ?? "unknown",
            "sluice.wave.targets": header.machineInput.waves[wave]?.targets.length ?? 0
          }
        }),
        (span) => Effect.sync(() => waves.set(wave, span))
      )
    })
  const rollbackSpan = Effect.suspend(() =>
    rollback !== undefined
      ? Effect.succeed(rollback)
      : Effect.tap(
          Effect.makeSpan("sluice.rollback", {
            parent: rollout,
            attributes: { "deployment.id": rolloutId, "cicd.pipeline.task.name": "rollback" }
          }),
          (span) => Effect.sync(() => (rollback = span))
        )
  )
  const endWave = (wave: number, ok: boolean, reason?: string) =>
    Effect.flatMap(now, (t) =>
      Effect.sync(() => {
        const span = waves.get(wave)
        if (span === undefined || !open(span)) return
        span.attribute("cicd.pipeline.task.run.result", ok ? "success" : "failure")
        span.end(t, ok ? Exit.void : failedExit(reason ?? "the wave did not complete"))
      })
    )
  /** Waves still open when the rollout turns to rollback or ends did not complete. */
  const endWaves = (reason: string) =>
    Effect.flatMap(now, (t) =>
      Effect.sync(() => {
        for (const span of waves.values()) {
          if (!open(span)) continue
          span.attribute("cicd.pipeline.task.run.result", "failure")
          span.end(t, failedExit(reason))
        }
      })
    )
  /** At the end, the rollback phase too: an error when the rollout's outcome is. */
  const endAll = (reason: string) =>
    Effect.andThen(
      endWaves(reason),
      Effect.flatMap(now, (t) =>
        Effect.sync(() => {
          if (rollback !== undefined && open(rollback))
            rollback.end(t, failure === undefined ? Exit.void : failedExit(failure))
        })
      )
    )
  yield* Effect.addFinalizer((exit) =>
    Effect.andThen(
      endAll(exit._tag === "Success" ? (failure ?? "the rollout ended") : "the run stopped"),
      Effect.flatMap(now, (t) =>
        Effect.sync(() => {
          if (!open(rollout)) return
          rollout.end(t, exit._tag === "Failure" ? exit : failure === undefined ? Exit.void : failedExit(failure))
        })
      )
    )
  )

  const under =
    (parent: Effect.Effect<Tracer.Span>, name: string, attributes?: Record<string, unknown>) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.flatMap(parent, (span) =>
        Effect.withSpan(effect, name, attributes === undefined ? { parent: span } : { parent: span, attributes })
      )

  const tracing: RolloutTracing = {
    enabled: true,
    perTarget: targetCount <= TARGET_SPAN_LIMIT,
    inRollout: (effect) => Effect.withParentSpan(effect, rollout),
    inWave: (wave, name, attributes) => under(waveSpan(wave), name, { "sluice.wave": wave, ...attributes }),
    inRollback: (name, attributes) => under(rollbackSpan, name, attributes),
    inRun: (name, attributes) => under(Effect.succeed(rollout), name, attributes),
    target: (name, targetId, wave) => (effect) =>
      Effect.withSpan(effect, name, {
        attributes: wave < 0 ? { "sluice.target": targetId } : { "sluice.target": targetId, "sluice.wave": wave }
      }),
    event: (e) => {
      switch (e.type) {
        case "waveStarted":
          return Effect.flatMap(waveSpan(e.wave), (span) =>
            Effect.sync(() => {
              for (const [topology, n] of Object.entries(e.byTopology))
                span.attribute(`sluice.wave.topology.${topology}`, n)
            })
          )
        case "waveHealthy":
          return endWave(e.wave, true)
        case "paused":
        case "resumed":
        case "awaitingApproval":
          return Effect.flatMap(Effect.all([waveSpan(e.wave), now]), ([span, t]) =>
            Effect.sync(() => span.event(e.type, t, e.type === "paused" ? { "sluice.reason": e.reason } : undefined))
          )
        case "gateDecided":
          // The gate's own span is the current one (the check that emitted the decision).
          return Effect.annotateCurrentSpan({
            [`sluice.gate.${e.gate}.allow`]: e.allow,
            [`sluice.gate.${e.gate}.violations`]: e.violations.length,
            [`sluice.gate.${e.gate}.warnings`]: e.warnings.length
          })
        case "targetFailed":
          return Effect.flatMap(Effect.all([Effect.currentSpan, now]), ([span, t]) =>
            Effect.sync(() =>
              span.event("target failed", t, { "sluice.target": e.targetId, "sluice.reason": e.reason })
            )
          ).pipe(Effect.ignore)
        case "rollbackStarted":
          return Effect.flatMap(rollbackSpan, (span) =>
            Effect.andThen(
              Effect.sync(() => {
                failure ??= e.reason
                span.attribute("sluice.rollback.reason", e.reason)
                span.attribute("sluice.rollback.targets", e.targets)
              }),
              endWaves(`rolled back: ${e.reason}`)
            )
          )
        case "finished":
          return Effect.sync(() => {
            if (e.outcome !== "completed") failure = e.reason ?? failure ?? e.outcome
            rollout.attribute("deployment.status", e.outcome === "completed" ? "succeeded" : "failed")
            rollout.attribute("cicd.pipeline.result", pipelineResult[e.outcome])
            rollout.attribute("sluice.outcome", e.outcome)
            rollout.attribute("sluice.updated", e.updated)
            rollout.attribute("sluice.rolled_back", e.rolledBack)
            rollout.attribute("sluice.touched", e.touched)
          }).pipe(Effect.andThen(endAll(e.reason ?? e.outcome)))
        default:
          return Effect.void
      }
    }
  }
  return tracing
})

/** Where OTLP/HTTP traces go, from a base endpoint as OTEL_EXPORTER_OTLP_ENDPOINT gives it. */
export const otlpTracesUrl = (endpoint: string) =>
  /\/v1\/traces\/?$/.test(endpoint) ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`

export interface OtlpTracingOptions {
  /** The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`; `/v1/traces` is appended). */
  readonly endpoint: string
  readonly serviceName?: string
  readonly serviceVersion?: string
  readonly headers?: Record<string, string>
  /** Resource attributes besides the service's (e.g. `deployment.environment.name`). */
  readonly attributes?: Record<string, unknown>
}

/**
 * Effect's OTLP tracer (`effect/observability`), JSON over HTTP with `fetch`: provide it to a
 * rollout and its spans are exported in batches, the rest flushed when the layer's scope closes.
 * An export that fails never fails the rollout: the exporter retries, then drops the batch and
 * pauses for a minute, logging that at debug level; closing waits at most 3 s for the last export.
 */
export const otlpTracingLayer = (options: OtlpTracingOptions) =>
  OtlpTracer.layer({
    url: otlpTracesUrl(options.endpoint),
    resource: {
      serviceName: options.serviceName ?? "sluice",
      ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion }),
      ...(options.attributes === undefined ? {} : { attributes: options.attributes })
    },
    ...(options.headers === undefined ? {} : { headers: options.headers })
  }).pipe(Layer.provide([OtlpSerialization.layerJson, FetchHttpClient.layer]))
