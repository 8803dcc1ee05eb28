import { randomBytes } from "node:crypto"
import { Effect, Layer, Tracer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { RolloutHeader } from "../../src/store/RolloutStore.js"
import {
  disabledTracing,
  makeRolloutTracing,
  otlpTracingLayer,
  TARGET_SPAN_LIMIT
} from "../../src/telemetry/RolloutTracing.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"
import {
  type JaegerSpan,
  type JaegerTrace,
  jaegerBinary,
  parentOf,
  type RunningJaeger,
  startJaeger,
  tag
} from "../support/jaeger.js"
import { eventually } from "../support/prometheus.js"

// Sluice's spans, exported with Effect's OTLP tracer to a real Jaeger (all-in-one, in-memory
// storage) and read back through Jaeger's query API.
const binary = jaegerBinary("the Sluice tracing suite")
// One service name per run of the suite: Jaeger's query is by service.
const service = `sluice-core-test-${process.pid}`

let jaeger: RunningJaeger
beforeAll(async () => {
  if (binary !== undefined) jaeger = await startJaeger(binary)
}, 90_000)
afterAll(() => jaeger?.stop())

const run = (id: string, versions: Parameters<typeof world>[0]["versions"] = {}, parent?: Tracer.AnySpan) => {
  const w = world({ size: 6, namePrefix: id, versions })
  const plan = {
    ...chunkPlan([...w.fleet.targets.keys()], 3),
    targets: [...w.fleet.targets.values()].map((t) => t.target)
  }
  const rollout = startRollout({
    config: configFor({ rolloutId: id }),
    spec: { metadata: { name: `agent-${id}` } },
    plan: () => plan
  })
  return Effect.runPromise(
    (parent === undefined ? rollout : Effect.withParentSpan(rollout, parent)).pipe(
      Effect.provide(Layer.mergeAll(w.layer, otlpTracingLayer({ endpoint: jaeger.otlpEndpoint, serviceName: service })))
    )
  )
}

/** The trace whose root is the rollout span of `id`, once Jaeger has all `spans` of it. */
const traceOf = async (id: string, spans: (t: JaegerTrace) => boolean) => {
  const find = async () =>
    (await jaeger.traces(service)).find((t) =>
      t.spans.some((s) => s.operationName === "sluice.rollout" && tag(s, "deployment.id") === id)
    )
  const trace = await eventually(find, (t) => t !== undefined && spans(t), 30_000)
  expect(trace, `no complete trace of ${id} in Jaeger`).toBeDefined()
  return trace!
}

const named = (trace: JaegerTrace, name: string) => trace.spans.filter((s) => s.operationName === name)
const childrenOf = (trace: JaegerTrace, span: JaegerSpan, name?: string) =>
  trace.spans.filter(
    (s) => parentOf(trace, s)?.spanID === span.spanID && (name === undefined || s.operationName === name)
  )

describe("tracing without a tracer", () => {
  it("costs nothing: with Effect's default tracer the run gets the disabled tracing", async () => {
    const header = { rolloutId: "x", plan: { waves: [] }, machineInput: { waves: [] } } as unknown as RolloutHeader
    const tracing = await Effect.runPromise(Effect.scoped(makeRolloutTracing(header, false)))
    expect(tracing).toBe(disabledTracing)
    // Installing a tracer but turning tracing off is the same.
    const off = await Effect.runPromise(
      Effect.scoped(makeRolloutTracing(header, false)).pipe(
        Effect.withTracer(Tracer.make({ span: (o) => new Tracer.NativeSpan(o) })),
        Effect.withTracerEnabled(false)
      )
    )
    expect(off).toBe(disabledTracing)
  })
})

describe("the span budget", () => {
  // Spans recorded in process (Effect's own NativeSpan behind a tracer of the test's): what is
  // counted is how many spans the engine asks for, which no exporter changes.
  const recorded = async (size: number) => {
    const names: string[] = []
    const tracer = Tracer.make({
      span: (options) => {
        names.push(options.name)
        return new Tracer.NativeSpan(options)
      }
    })
    const w = world({ size, namePrefix: `budget-${size}` })
    const ids = [...w.fleet.targets.keys()]
    const plan = {
      ...chunkPlan(ids, Math.ceil(size / 2), { maxUnavailable: size }),
      targets: [...w.fleet.targets.values()].map((t) => t.target)
    }
    const result = await Effect.runPromise(
      startRollout({ config: configFor({ rolloutId: `budget-${size}` }), spec: {}, plan: () => plan }).pipe(
        Effect.withTracer(tracer),
        Effect.provide(w.layer)
      )
    )
    expect(result.outcome).toBe("completed")
    const count = (name: string) => names.filter((n) => n === name).length
    return { count, total: names.length }
  }

  it("has a span per target operation up to TARGET_SPAN_LIMIT targets, batch spans only above it", async () => {
    const small = await recorded(TARGET_SPAN_LIMIT)
    expect(small.count("sluice.target.apply")).toBe(TARGET_SPAN_LIMIT)
    expect(small.count("sluice.target.verify")).toBe(TARGET_SPAN_LIMIT)
    const large = await recorded(TARGET_SPAN_LIMIT + 1)
    expect(large.count("sluice.target.apply")).toBe(0)
    expect(large.count("sluice.target.verify")).toBe(0)
    expect(large.count("sluice.rollout")).toBe(1)
    expect(large.count("sluice.wave")).toBe(2)
    expect(large.count("sluice.update")).toBeGreaterThan(0)
    // Bounded by the waves and batches, not by the fleet.
    expect(large.total).toBeLessThan(TARGET_SPAN_LIMIT / 10)
  }, 120_000)
})

describe.skipIf(binary === undefined)("Sluice's spans in a real Jaeger (OTLP/HTTP)", () => {
  it("a completed rollout: rollout → gates, waves → update batches → apply and health per target", async () => {
    const result = await run("trace-ok")
    expect(result.outcome).toBe("completed")
    // 1 rollout, 1 pre-flight gates, 2 waves, 6 update batches (maxUnavailable 1), 6 applies, 6 verifies.
    const trace = await traceOf("trace-ok", (t) => named(t, "sluice.target.verify").length === 6)
    expect(Object.values(trace.processes).map((p) => p.serviceName)).toContain(service)

    const [rollout, ...others] = named(trace, "sluice.rollout")
    expect(others).toHaveLength(0)
    expect(parentOf(trace, rollout!)).toBeUndefined()
    expect(tag(rollout!, "deployment.id")).toBe("trace-ok")
    expect(tag(rollout!, "deployment.name")).toBe("agent-trace-ok")
    expect(tag(rollout!, "deployment.status")).toBe("succeeded")
    expect(tag(rollout!, "cicd.pipeline.name")).toBe("agent-trace-ok")
    expect(tag(rollout!, "cicd.pipeline.run.id")).toBe("trace-ok")
    expect(tag(rollout!, "cicd.pipeline.result")).toBe("success")
    expect(tag(rollout!, "sluice.outcome")).toBe("completed")
    expect(tag(rollout!, "sluice.image")).toBe(V2)
    expect(tag(rollout!, "sluice.targets")).toBe(6)
    expect(tag(rollout!, "error")).toBeUndefined()

    const gates = childrenOf(trace, rollout!, "sluice.gates")
    expect(gates.map((g) => tag(g, "sluice.gate.scope"))).toEqual(["preflight"])

    const waves = childrenOf(trace, rollout!, "sluice.wave").sort(
      (a, b) => Number(tag(a, "sluice.wave")) - Number(tag(b, "sluice.wave"))
    )
    expect(waves.map((w) => tag(w, "sluice.wave"))).toEqual([0, 1])
    for (const wave of waves) {
      expect(tag(wave, "cicd.pipeline.task.type")).toBe("deploy")
      expect(tag(wave, "cicd.pipeline.task.run.result")).toBe("success")
      expect(tag(wave, "cicd.pipeline.task.name")).toBe(`wave ${tag(wave, "sluice.wave")}`)
      expect(tag(wave, "sluice.wave.targets")).toBe(3)
      const batches = childrenOf(trace, wave, "sluice.update")
      expect(batches.length).toBeGreaterThan(0)
      const applies = batches.flatMap((b) => childrenOf(trace, b, "sluice.target.apply"))
      const verifies = batches.flatMap((b) => childrenOf(trace, b, "sluice.target.verify"))
      expect(applies).toHaveLength(3)
      expect(verifies).toHaveLength(3)
      for (const a of applies) expect(tag(a, "sluice.wave")).toBe(tag(wave, "sluice.wave"))
      expect(new Set(applies.map((a) => tag(a, "sluice.target"))).size).toBe(3)
    }
    // Every span is in the rollout's tree.
    const root = (s: JaegerSpan): JaegerSpan => {
      const p = parentOf(trace, s)
      return p === undefined ? s : root(p)
    }
    for (const s of trace.spans) expect(root(s).spanID).toBe(rollout!.spanID)
  }, 90_000)

  it("a rolled-back rollout: the rollout and its wave are errors, the rollback has a span per target", async () => {
    const result = await run("trace-bad", { [V2]: { behaviour: { kind: "failAfter", afterMs: 0 } } })
    expect(result.outcome).toBe("rolledBack")
    const trace = await traceOf(
      "trace-bad",
      (t) =>
        named(t, "sluice.target.rollback").length === result.rolledBack.length &&
        named(t, "sluice.rollback").length === 1
    )
    const [rollout] = named(trace, "sluice.rollout")
    expect(tag(rollout!, "deployment.status")).toBe("failed")
    expect(tag(rollout!, "cicd.pipeline.result")).toBe("failure")
    expect(tag(rollout!, "sluice.outcome")).toBe("rolledBack")
    expect(tag(rollout!, "error")).toBe(true)
    const waves = childrenOf(trace, rollout!, "sluice.wave")
    expect(waves.some((w) => tag(w, "cicd.pipeline.task.run.result") === "failure" && tag(w, "error") === true)).toBe(
      true
    )
    const [rollback] = childrenOf(trace, rollout!, "sluice.rollback")
    expect(rollback).toBeDefined()
    expect(String(tag(rollback!, "sluice.rollback.reason"))).not.toBe("")
    const perTarget = childrenOf(trace, rollback!, "sluice.rollback.batch").flatMap((b) =>
      childrenOf(trace, b, "sluice.target.rollback")
    )
    expect(new Set(perTarget.map((s) => tag(s, "sluice.target")))).toEqual(new Set(result.rolledBack))
  }, 90_000)

  it("an embedder's trace: given the embedder's active span as parent, the rollout joins that trace", async () => {
    // What an embedder running an OpenTelemetry SDK hands over: its active span's context
    // (`trace.getActiveSpan().spanContext()` in @opentelemetry/api), as an external span.
    const traceId = randomBytes(16).toString("hex")
    const spanId = randomBytes(8).toString("hex")
    const result = await run("trace-embed", {}, Tracer.externalSpan({ traceId, spanId, sampled: true }))
    expect(result.outcome).toBe("completed")
    const trace = await eventually(
      () => jaeger.trace(traceId),
      (t) => t !== undefined && t.spans.filter((s) => s.operationName === "sluice.target.verify").length === 6,
      30_000
    )
    expect(trace?.traceID).toBe(traceId)
    const [rollout] = named(trace!, "sluice.rollout")
    expect(tag(rollout!, "deployment.id")).toBe("trace-embed")
    expect(rollout!.references).toContainEqual(
      expect.objectContaining({ refType: "CHILD_OF", traceID: traceId, spanID: spanId })
    )
  }, 90_000)
})
