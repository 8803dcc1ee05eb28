import { Effect, Layer, Schema } from "effect"
import { HttpClient } from "effect/http"
import type { AnalysisConfig } from "../interpreter/RolloutConfig.js"
import { type AnalysisScope, MetricsError, MetricsProvider } from "./MetricsProvider.js"

/** The parts of Prometheus' `/api/v1/query` answer an analysis needs. */
const QueryResponse = Schema.Struct({
  status: Schema.Literals(["success", "error"]),
  errorType: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String),
  data: Schema.optional(
    Schema.Struct({
      resultType: Schema.String,
      result: Schema.Unknown
    })
  )
})
const decodeResponse = Schema.decodeUnknownEffect(QueryResponse)

const SampleVector = Schema.Array(Schema.Struct({ value: Schema.Tuple([Schema.Number, Schema.String]) }))
const Scalar = Schema.Tuple([Schema.Number, Schema.String])

export interface PrometheusOptions {
  /** Used when an analysis does not name its own `address`. */
  readonly address?: string
  readonly timeoutMs?: number
}

/**
 * Substitutes `{{rollout}}` and `{{wave}}` in a query, so one template can select the wave's
 * targets by label.
 */
export const renderQuery = (query: string, scope: AnalysisScope) =>
  query.replaceAll("{{rollout}}", scope.rolloutId).replaceAll("{{wave}}", String(scope.wave))

/**
 * Reads one number from the Prometheus HTTP API: a scalar, or a vector with exactly one sample.
 * An empty vector, several samples, NaN or an API error fail the measurement: analysis fails closed.
 */
export const queryPrometheus = (address: string, query: string, timeoutMs = 10_000) =>
  queryPrometheusOptional(address, query, timeoutMs).pipe(
    Effect.flatMap((value) =>
      value === undefined
        ? Effect.fail(new MetricsError({ query, message: "expected exactly one sample, got 0 (no data)" }))
        : Effect.succeed(value)
    )
  )

/**
 * {@link queryPrometheus}, except that an empty vector is `undefined` (no data) rather than an
 * error: what the canary judge reads per target, where a missing series is a missing data point.
 */
export const queryPrometheusOptional = (
  address: string,
  query: string,
  timeoutMs = 10_000
): Effect.Effect<number | undefined, MetricsError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const url = `${address.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`
    const fail = (message: string) => new MetricsError({ query, message })
    const client = yield* HttpClient.HttpClient
    const body = yield* client.get(url).pipe(
      Effect.flatMap((response) => response.json),
      Effect.mapError((e) => fail(`cannot query Prometheus at ${address}: ${e.message}`)),
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.fail(fail(`cannot query Prometheus at ${address}: no answer within ${timeoutMs}ms`))
      })
    )
    const parsed = yield* decodeResponse(body).pipe(
      Effect.mapError(() => fail("Prometheus answered with an unexpected document"))
    )
    if (parsed.status === "error" || parsed.data === undefined) {
      return yield* fail(`Prometheus rejected the query: ${parsed.errorType ?? "error"}: ${parsed.error ?? "unknown"}`)
    }
    let raw: string
    if (parsed.data.resultType === "scalar") {
      raw = (yield* Schema.decodeUnknownEffect(Scalar)(parsed.data.result).pipe(
        Effect.mapError(() => fail("malformed scalar"))
      ))[1]
    } else if (parsed.data.resultType === "vector") {
      const samples = yield* Schema.decodeUnknownEffect(SampleVector)(parsed.data.result).pipe(
        Effect.mapError(() => fail("malformed vector"))
      )
      if (samples.length === 0) return undefined
      if (samples.length !== 1) {
        return yield* fail(
          `expected exactly one sample, got ${samples.length}${samples.length === 0 ? " (no data)" : ""}`
        )
      }
      raw = samples[0]!.value[1]
    } else {
      return yield* fail(`expected a scalar or an instant vector, got ${parsed.data.resultType}`)
    }
    const value = Number(raw)
    if (!Number.isFinite(value)) return yield* fail(`the query returned ${raw}`)
    return value
  })

/**
 * A MetricsProvider backed by the Prometheus HTTP API, through Effect's `HttpClient` (provide one,
 * e.g. `FetchHttpClient.layer` from `effect/http`).
 */
export const PrometheusMetrics = (options: PrometheusOptions = {}) =>
  Layer.effect(
    MetricsProvider,
    Effect.map(Effect.service(HttpClient.HttpClient), (client) => ({
      query: (analysis: AnalysisConfig, scope: AnalysisScope): Effect.Effect<number, MetricsError> => {
        const address = analysis.address ?? options.address
        if (address === undefined) {
          return Effect.fail(
            new MetricsError({
              query: analysis.query,
              message: `analysis "${analysis.name}" has no Prometheus address`
            })
          )
        }
        return queryPrometheus(address, renderQuery(analysis.query, scope), options.timeoutMs).pipe(
          Effect.provideService(HttpClient.HttpClient, client)
        )
      },
      sample: (analysis: AnalysisConfig, query: string): Effect.Effect<number | undefined, MetricsError> => {
        const address = analysis.address ?? options.address
        if (address === undefined) {
          return Effect.fail(
            new MetricsError({ query, message: `analysis "${analysis.name}" has no Prometheus address` })
          )
        }
        return queryPrometheusOptional(address, query, options.timeoutMs).pipe(
          Effect.provideService(HttpClient.HttpClient, client)
        )
      }
    }))
  )
