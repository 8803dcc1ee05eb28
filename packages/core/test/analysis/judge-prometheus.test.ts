import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Layer, Result } from "effect"
import { FetchHttpClient } from "effect/http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { TargetAdapter } from "../../src/adapter/TargetAdapter.js"
import { PrometheusMetrics } from "../../src/adapter/PrometheusMetrics.js"
import type { AnalysisVerdict } from "../../src/analysis/verdict.js"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import { planWaves } from "../../src/plan/planWaves.js"
import { configFromSpec } from "../../src/run/fromSpec.js"
import { parseRolloutSpec } from "../../src/spec/parse.js"
import { makeMemoryStore } from "../../src/store/MemoryStore.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { makeSimulatedFleet, type SimulatedFleet } from "../../src/testing/SimulatedFleet.js"
import { recordingSink, V1 } from "../support/harness.js"
import { eventually, prometheusBinary, type RunningPrometheus, startPrometheus } from "../support/prometheus.js"

/**
 * End to end against the real Prometheus (Debian's package): one small exporter per simulated node
 * on loopback stands in for that node's agent, serving its own error counter and memory gauge in
 * the Prometheus text format; Prometheus scrapes them every second. The exporters read the
 * simulated fleet, so a node serves the behaviour of the version it runs now: the "bad" version
 * triples the error rate. The canary judge reads each node's series through PrometheusMetrics.
 */
const binary = prometheusBinary("the canary judge end-to-end suite")
const SIZE = 12
const GOOD = "registry.sluice.dev/agents/node-agent:2.0.0"
const BAD = "registry.sluice.dev/agents/node-agent:2.0.1"

let prometheus: RunningPrometheus
const servers: Array<http.Server> = []
/** The fleet each exporter reads: replaced per test, before its rollout starts. */
let currentFleet: SimulatedFleet | undefined

/** Node i's own level, a fixed ±10 % around the mean: noise across nodes, not over time. */
const noise = (i: number, salt: number) => (((i * 37 + salt * 11) % 21) - 10) / 100
const ids = Array.from({ length: SIZE }, (_, i) => `node-${String(i).padStart(2, "0")}`)

beforeAll(async () => {
  if (binary === undefined) return
  const targets: Array<string> = []
  for (const [i, id] of ids.entries()) {
    let errors = 0
    let last = Date.now()
    const server = http.createServer((_req, res) => {
      // The counter grows at the rate of the version the node runs now (×3 for the bad one).
      const now = Date.now()
      const image = currentFleet?.targets.get(id)?.image ?? V1
      const rate = 10 * (1 + noise(i, 1)) * (image === BAD ? 3 : 1)
      errors += (rate * (now - last)) / 1000
      last = now
      const zone = currentFleet?.targets.get(id)?.target.labels.zone ?? ""
      res.end(
        [
          "# TYPE agent_errors_total counter",
          `agent_errors_total{node="${id}",zone="${zone}"} ${errors}`,
          "# TYPE agent_memory_bytes gauge",
          `agent_memory_bytes{node="${id}"} ${Math.round(50e6 * (1 + noise(i, 2)))}`,
          ""
        ].join("\n")
      )
    })
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))
    servers.push(server)
    targets.push(`127.0.0.1:${(server.address() as AddressInfo).port}`)
  }
  prometheus = await startPrometheus(binary, targets)
  // Every node's rate over the judge's window needs a few scrapes first.
  const ready = await eventually(
    () => prometheus.query("count(rate(agent_errors_total[5s]) > 0)"),
    (n) => n === SIZE,
    90_000
  )
  if (ready !== SIZE) throw new Error(`Prometheus has a rate for ${ready ?? 0} of ${SIZE} exporters`)
}, 120_000)

afterAll(() => {
  prometheus?.stop()
  for (const s of servers) s.close()
})

const specText = (image: string, address: string) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent-judged }
spec:
  target: { adapter: simulated }
  artifact: { image: ${image} }
  topology: zone
  strategy:
    canary:
      steps:
        - setWeight: 25
        - analysis: { templates: [agent-health] }
      rolling: { batchSize: 50% }
  health: { progressDeadline: 2m }
  gates:
    policy: { enabled: false }
    scan: { enabled: false }
    analysis:
      - name: agent-health
        provider: prometheus
        address: ${address}
        args: [{ name: zone, fromLabel: zone }]
        initialDelay: 7s
        interval: 2s
        count: 2
        judge:
          kind: canary
          metrics:
            - name: errors
              query: rate(agent_errors_total{node="{{target}}",zone="{{args.zone}}"}[5s])
              direction: increase
              critical: true
            - name: memory
              query: agent_memory_bytes{node="{{target}}"}
              direction: increase
`

let runs = 0
const run = async (image: string, edit: (spec: string) => string = (x) => x) => {
  const text = edit(specText(image, prometheus.address))
  const parsed = parseRolloutSpec(text)
  if (Result.isFailure(parsed)) throw new Error(parsed.failure.problems.map((p) => p.message).join("; "))
  const spec = parsed.success
  const fleet = makeSimulatedFleet({ size: SIZE, image: V1, zones: ["zone-a", "zone-b"] })
  currentFleet = fleet
  const store = makeMemoryStore()
  const sink = recordingSink()
  const rolloutId = `judged-${runs++}`
  const result = await Effect.runPromise(
    startRollout({
      config: configFromSpec(spec, rolloutId),
      spec: text,
      plan: (inventory) => planWaves(spec, inventory)
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          Layer.succeed(TargetAdapter, fleet.adapter),
          PrometheusMetrics().pipe(Layer.provide(FetchHttpClient.layer)),
          Layer.succeed(RolloutStore, store),
          sink.layer
        )
      )
    )
  )
  const stored = await Effect.runPromise(store.read(rolloutId))
  const verdicts = sink.events.flatMap((e) =>
    e.type === "gateDecided" && e.gate === "analysis" && e.analysis !== undefined ? [e.analysis as AnalysisVerdict] : []
  )
  return { result, fleet, verdicts, entries: stored.entries }
}

describe.skipIf(binary === undefined)("canary judge against the real Prometheus", () => {
  it("a canary whose error rate tripled fails the wave by the judge and rolls every touched node back", async () => {
    const { result, fleet, verdicts, entries } = await run(BAD)
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toContain('analysis "agent-health" failed')
    expect(verdicts).toHaveLength(1)
    const judgement = verdicts[0]!.judgement!
    expect(verdicts[0]!.phase).toBe("Failed")
    expect(judgement.result).toBe("fail")
    // The first wave (25 % of 12, spread over both zones) against the 9 nodes not yet updated.
    expect(judgement.canary).toHaveLength(3)
    expect(judgement.baseline).toHaveLength(9)
    const byName = Object.fromEntries(judgement.metrics.map((m) => [m.name, m]))
    expect(byName.errors?.classification).toBe("High")
    expect(byName.errors?.failed).toBe(true)
    expect(byName.memory?.classification).toBe("Pass")
    // The shift is about twice the baseline's median (×3), far outside the 25 % band.
    expect(byName.errors!.estimate! / byName.errors!.baselineMedian!).toBeGreaterThan(1.5)
    // The values judged travel with the verdict (the report page plots them), one per target.
    expect(byName.errors?.canaryValues).toHaveLength(3)
    expect(byName.errors?.baselineValues).toHaveLength(9)
    // Journaled with the outcome: the journal says why the wave was rolled back.
    const failed = entries.flatMap((e) => (e.kind === "event" && e.event.type === "ANALYSIS_FAILED" ? [e.event] : []))
    expect(failed).toHaveLength(1)
    expect(failed[0]!.type === "ANALYSIS_FAILED" && failed[0]!.verdicts?.[0]?.judgement?.result).toBe("fail")
    // Every node runs the previous version again; nodes of later waves were never touched.
    for (const [id, t] of fleet.targets) {
      expect([id, t.image]).toEqual([id, V1])
      if (!judgement.canary.includes(id)) expect(t.history).toEqual([])
    }
  }, 180_000)

  it("a version that only differs by noise passes the judge on every measurement and completes", async () => {
    const { result, fleet, verdicts } = await run(GOOD)
    expect(result.outcome).toBe("completed")
    expect(verdicts).toHaveLength(1)
    expect(verdicts[0]!.phase).toBe("Successful")
    expect(verdicts[0]!.successful).toBe(2)
    expect(verdicts[0]!.judgement!.result).toBe("pass")
    expect(verdicts[0]!.judgement!.metrics.map((m) => m.classification)).toEqual(["Pass", "Pass"])
    for (const t of fleet.targets.values()) expect(t.image).toBe(GOOD)
  }, 180_000)

  it("a marginal judgement is an inconclusive measurement, and an inconclusive run fails the wave", async () => {
    // The error metric is no longer critical: one of two groups fails, score 50, marginal from 40.
    const { result, fleet, verdicts } = await run(BAD, (spec) =>
      spec
        .replace("critical: true", "critical: false")
        .replace("kind: canary", "kind: canary\n          thresholds: { pass: 95, marginal: 40 }")
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toContain('analysis "agent-health" inconclusive')
    expect(verdicts[0]).toMatchObject({ phase: "Inconclusive", inconclusive: 1, failed: 0 })
    expect(verdicts[0]!.judgement).toMatchObject({ result: "marginal", score: 50 })
    for (const t of fleet.targets.values()) expect(t.image).toBe(V1)
  }, 180_000)

  it("a query with no data on any target errs past consecutiveErrorLimit and fails the wave", async () => {
    const { result, verdicts } = await run(GOOD, (spec) =>
      spec
        .replace("agent_memory_bytes{", "agent_not_exported_bytes{")
        .replace("rate(agent_errors_total{", "rate(agent_not_exported_total{")
        .replace("initialDelay: 7s", "initialDelay: 0s\n        consecutiveErrorLimit: 1")
        .replace("interval: 2s", "interval: 200ms")
    )
    expect(result.outcome).toBe("rolledBack")
    expect(result.reason).toContain('analysis "agent-health" error: more than 1 measurement(s) in a row')
    expect(verdicts[0]).toMatchObject({ phase: "Error", errors: 2, successful: 0 })
    expect(verdicts[0]!.judgement!.result).toBe("nodata")
    expect(verdicts[0]!.judgement!.metrics.map((m) => m.classification)).toEqual(["NoData", "NoData"])
  }, 180_000)

  it("a threshold with a per-target argument measures every canary node: one over the threshold fails the wave", async () => {
    // No judge: the same query per target (its zone from the label), each must satisfy the condition.
    const threshold = (spec: string) =>
      spec.slice(0, spec.indexOf("        judge:")) +
      '        query: rate(agent_errors_total{node="{{target}}",zone="{{args.zone}}"}[5s])\n' +
      "        successCondition: result < 20\n"
    const good = await run(GOOD, threshold)
    expect(good.result.outcome).toBe("completed")
    expect(good.verdicts[0]).toMatchObject({ phase: "Successful", successful: 2 })
    const bad = await run(BAD, threshold)
    expect(bad.result.outcome).toBe("rolledBack")
    expect(bad.result.reason).toMatch(/3 target\(s\) do not satisfy result < 20, e\.g\. node-\d\d: result \d/)
    expect(bad.verdicts[0]).toMatchObject({ phase: "Failed", failed: 1 })
  }, 240_000)
})
