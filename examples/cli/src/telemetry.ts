import { cdEventsLayer, EventSink, otlpTracingLayer, type RolloutEvent } from "@sluice/core"
import { Effect, Layer } from "effect"
import { UsageError } from "./errors.js"
import type { Io } from "./io.js"

/**
 * The tracer of a rollout run: Effect's OTLP/HTTP exporter when `--otlp-endpoint` (or, as
 * OpenTelemetry SDKs read it, OTEL_EXPORTER_OTLP_ENDPOINT) names a collector; none otherwise, and
 * then the engine builds no span at all. The exporter flushes when the run's layer closes (waiting
 * at most 3 s); a collector that cannot be reached loses the spans (logged at debug level), never
 * the rollout.
 */
export const tracingLayer = (io: Io, option: string | undefined, command: string) => {
  const endpoint = option ?? nonEmpty(io.env.OTEL_EXPORTER_OTLP_ENDPOINT)
  if (endpoint === undefined || io.env.OTEL_SDK_DISABLED === "true") return Layer.empty
  httpUrl(endpoint, option === undefined ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "--otlp-endpoint", command)
  io.err(`traces: OTLP/HTTP to ${endpoint}\n`)
  return otlpTracingLayer({
    endpoint,
    serviceName: nonEmpty(io.env.OTEL_SERVICE_NAME) ?? "sluice"
  })
}

/**
 * The run's EventSink: the progress view, with `--cdevents-url` the CDEvents webhook in front of it
 * (service.upgraded / service.rolledback when the rollout ends; never blocking it).
 */
export const eventSinkLayer = (
  io: Io,
  cdeventsUrl: string | undefined,
  render: (event: RolloutEvent) => void,
  command: string
) => {
  if (cdeventsUrl === undefined) return EventSink.fromCallback(render)
  httpUrl(cdeventsUrl, "--cdevents-url", command)
  io.err(`cdevents: POST to ${cdeventsUrl}\n`)
  return cdEventsLayer({ url: cdeventsUrl }, { publish: (event) => Effect.sync(() => render(event)) })
}

const httpUrl = (text: string, what: string, command: string) => {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    url = new URL("invalid:")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError({ message: `${what} "${text}" is not an http(s) URL (like http://127.0.0.1:4318)`, command })
}

const nonEmpty = (s: string | undefined) => (s === undefined || s.trim() === "" ? undefined : s.trim())
