import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type JaegerSpan,
  type JaegerTrace,
  jaegerBinary,
  parentOf,
  type RunningJaeger,
  startJaeger,
  tag
} from "../../../packages/core/test/support/jaeger.js"
import { eventually } from "../../../packages/core/test/support/prometheus.js"
import { FAST, fixture, sluice, tmpStore } from "./helpers.js"

// `sluice apply --otlp-endpoint` exports the rollout's spans over OTLP/HTTP; a real Jaeger
// (all-in-one, in-memory storage) receives them and the test reads the trace back through its
// query API.
const binary = jaegerBinary("the CLI tracing suite")
let jaeger: RunningJaeger

beforeAll(async () => {
  if (binary !== undefined) jaeger = await startJaeger(binary)
}, 90_000)
afterAll(() => jaeger?.stop())

const withEnv = async <A>(vars: Record<string, string>, f: () => Promise<A>): Promise<A> => {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
  Object.assign(process.env, vars)
  try {
    return await f()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

const rolloutTrace = async (service: string, id: string, targets: number) => {
  const complete = (t: JaegerTrace) =>
    t.spans.filter((s) => s.operationName === "sluice.target.verify").length === targets
  const trace = await eventually(
    async () =>
      (await jaeger.traces(service)).find((t) =>
        t.spans.some((s) => s.operationName === "sluice.rollout" && tag(s, "deployment.id") === id)
      ),
    (t) => t !== undefined && complete(t),
    30_000
  )
  expect(trace, `no complete trace of ${id} from ${service} in Jaeger`).toBeDefined()
  return trace!
}

const children = (trace: JaegerTrace, span: JaegerSpan, name: string) =>
  trace.spans.filter((s) => s.operationName === name && parentOf(trace, s)?.spanID === span.spanID)

describe.skipIf(binary === undefined)("sluice apply --otlp-endpoint (real Jaeger)", () => {
  it("exports one trace per rollout: rollout → waves → gate checks and update batches → apply and health per target", async () => {
    const service = `sluice-cli-test-${process.pid}`
    const store = tmpStore()
    const r = await withEnv({ OTEL_SERVICE_NAME: service }, () =>
      sluice([
        "apply",
        "-f",
        fixture("rolling.yaml"),
        "--id",
        "traced",
        "--plain",
        "--store",
        store,
        "--fleet-size",
        "12",
        "--zones",
        "2",
        ...FAST,
        "--otlp-endpoint",
        jaeger.otlpEndpoint
      ])
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`traces: OTLP/HTTP to ${jaeger.otlpEndpoint}`)

    const trace = await rolloutTrace(service, "traced", 12)
    const [rollout, ...more] = trace.spans.filter((s) => s.operationName === "sluice.rollout")
    expect(more).toHaveLength(0)
    expect(parentOf(trace, rollout!)).toBeUndefined()
    expect(tag(rollout!, "deployment.name")).toBe("agent")
    expect(tag(rollout!, "deployment.status")).toBe("succeeded")
    expect(tag(rollout!, "cicd.pipeline.run.id")).toBe("traced")
    expect(tag(rollout!, "cicd.pipeline.result")).toBe("success")
    expect(tag(rollout!, "sluice.adapter")).toBe("simulated")
    expect(tag(rollout!, "sluice.targets")).toBe(12)

    const waves = children(trace, rollout!, "sluice.wave")
    // batchSize 25% of 12: four waves of 3.
    expect(waves.map((w) => tag(w, "sluice.wave")).sort()).toEqual([0, 1, 2, 3])
    let applies = 0
    for (const wave of waves) {
      expect(tag(wave, "cicd.pipeline.task.run.result")).toBe("success")
      expect(children(trace, wave, "sluice.gates")).toHaveLength(1)
      for (const batch of children(trace, wave, "sluice.update")) {
        const ops = children(trace, batch, "sluice.target.apply")
        expect(ops.length).toBeGreaterThan(0)
        expect(children(trace, batch, "sluice.target.verify")).toHaveLength(ops.length)
        applies += ops.length
      }
    }
    expect(applies).toBe(12)
  }, 120_000)

  it("honours OTEL_EXPORTER_OTLP_ENDPOINT when --otlp-endpoint is not given", async () => {
    const service = `sluice-cli-env-${process.pid}`
    const store = tmpStore()
    const r = await withEnv({ OTEL_SERVICE_NAME: service, OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint }, () =>
      sluice([
        "apply",
        "-f",
        fixture("rolling.yaml"),
        "--id",
        "traced-env",
        "--plain",
        "--store",
        store,
        "--fleet-size",
        "4",
        ...FAST
      ])
    )
    expect(r.code, r.stderr).toBe(0)
    const trace = await rolloutTrace(service, "traced-env", 4)
    expect(trace.spans.some((s) => s.operationName === "sluice.wave")).toBe(true)
  }, 120_000)

  it("refuses an endpoint that is not an http(s) URL before touching anything (exit 64)", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--store",
      store,
      "--otlp-endpoint",
      "localhost:4318"
    ])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('--otlp-endpoint "localhost:4318" is not an http(s) URL')
  })
})
