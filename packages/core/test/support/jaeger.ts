import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort } from "./net.js"
import { eventually } from "./prometheus.js"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")
const version = /github\.com\/jaegertracing\/jaeger (v\S+)/.exec(
  fs.readFileSync(path.join(repoRoot, "tools/jaeger/go.mod"), "utf8")
)?.[1]

/**
 * scripts/jaeger/build-jaeger.sh's output, or the copy it keeps in the tools cache outside the
 * clone; under CI=true a missing one is an error, never a skip.
 */
export const jaegerBinary = (suite: string): string | undefined => {
  const found = [
    path.join(repoRoot, ".tools/bin/jaeger"),
    path.join(
      process.env.SLUICE_TOOLS_CACHE ?? path.join(os.homedir(), ".cache/sluice-tools"),
      `jaeger-${version}/jaeger`
    )
  ].find((p) => fs.existsSync(p))
  if (found !== undefined) return found
  const message = "jaeger is not built. Build it with: bash scripts/jaeger/build-jaeger.sh (a step of scripts/setup.sh)"
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING ${suite}: ${message}\n`)
  return undefined
}

/** A span as Jaeger's query API returns it (`/api/traces`), with what the tests read of it. */
export interface JaegerSpan {
  readonly traceID: string
  readonly spanID: string
  readonly operationName: string
  readonly references: ReadonlyArray<{ readonly refType: string; readonly traceID: string; readonly spanID: string }>
  readonly tags: ReadonlyArray<{ readonly key: string; readonly type: string; readonly value: unknown }>
  readonly logs: ReadonlyArray<{ readonly fields: ReadonlyArray<{ readonly key: string; readonly value: unknown }> }>
  readonly processID: string
}
export interface JaegerTrace {
  readonly traceID: string
  readonly spans: ReadonlyArray<JaegerSpan>
  readonly processes: Record<string, { readonly serviceName: string }>
}

export interface RunningJaeger {
  /** The OTLP/HTTP receiver's base URL (what --otlp-endpoint takes). */
  readonly otlpEndpoint: string
  /** The query service (API and UI). */
  readonly queryAddress: string
  readonly traces: (service: string) => Promise<ReadonlyArray<JaegerTrace>>
  readonly trace: (traceId: string) => Promise<JaegerTrace | undefined>
  readonly stop: () => void
}

/**
 * Starts Jaeger all-in-one (v2: an OpenTelemetry Collector with Jaeger's extensions) with in-memory
 * storage, its OTLP/HTTP receiver and its query service on free loopback ports, and nothing else
 * listening (no Jaeger/Zipkin receivers, no sampling server, no own metrics endpoint).
 */
export const startJaeger = async (binary: string): Promise<RunningJaeger> => {
  const [otlp, query, queryGrpc] = [await freePort(), await freePort(), await freePort()]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-jaeger-"))
  const config = path.join(dir, "jaeger.yaml")
  fs.writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`
  )
  let output = ""
  const child: ChildProcess = spawn(binary, ["--config", config], { stdio: ["ignore", "pipe", "pipe"] })
  child.stdout?.on("data", (d) => {
    output += d
  })
  child.stderr?.on("data", (d) => {
    output += d
  })
  const queryAddress = `http://127.0.0.1:${query}`
  const stop = () => {
    child.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const getJson = async (url: string) => {
    try {
      const response = await fetch(url)
      return response.ok ? ((await response.json()) as { data?: unknown }) : undefined
    } catch {
      return undefined
    }
  }
  // Ready when both the query API answers and the OTLP receiver accepts a (empty) request.
  const ready = await eventually(
    async () => {
      if (child.exitCode !== null) return false
      const services = await getJson(`${queryAddress}/api/services`)
      if (services === undefined) return false
      try {
        const r = await fetch(`http://127.0.0.1:${otlp}/v1/traces`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ resourceSpans: [] })
        })
        return r.ok
      } catch {
        return false
      }
    },
    (ok) => ok,
    60_000
  )
  if (!ready) {
    stop()
    throw new Error(`jaeger did not become ready:\n${output}`)
  }
  return {
    otlpEndpoint: `http://127.0.0.1:${otlp}`,
    queryAddress,
    traces: async (service) => {
      const body = await getJson(`${queryAddress}/api/traces?service=${encodeURIComponent(service)}&limit=100`)
      return (body?.data as ReadonlyArray<JaegerTrace> | undefined) ?? []
    },
    trace: async (traceId) => {
      const body = await getJson(`${queryAddress}/api/traces/${traceId}`)
      return (body?.data as ReadonlyArray<JaegerTrace> | undefined)?.[0]
    },
    stop
  }
}

/** The value of a span's tag, or undefined. */
export const tag = (span: JaegerSpan, key: string): unknown => span.tags.find((t) => t.key === key)?.value

/** The span a span's CHILD_OF reference names, within the trace. */
export const parentOf = (trace: JaegerTrace, span: JaegerSpan): JaegerSpan | undefined => {
  const ref = span.references.find((r) => r.refType === "CHILD_OF")
  return ref === undefined ? undefined : trace.spans.find((s) => s.spanID === ref.spanID)
}
