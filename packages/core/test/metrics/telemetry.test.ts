import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Layer } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import { RolloutMetrics } from "../../src/telemetry/RolloutMetrics.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"
import { eventually, prometheusBinary, type RunningPrometheus, startPrometheus } from "../support/prometheus.js"

// Sluice's own metrics, served in the Prometheus text exposition and scraped by a real Prometheus.
const binary = prometheusBinary("the Sluice telemetry suite")

let exporter: http.Server
let prometheus: RunningPrometheus
const scrape = () => Effect.runPromise(PrometheusMetrics.format())

beforeAll(async () => {
  if (binary === undefined) return
  exporter = http.createServer((_req, res) => void scrape().then((text) => res.end(text))).listen(0, "127.0.0.1")
  await new Promise((r) => exporter.once("listening", r))
  prometheus = await startPrometheus(binary, [`127.0.0.1:${(exporter.address() as AddressInfo).port}`])
}, 60_000)

afterAll(() => {
  prometheus?.stop()
  exporter?.close()
})

const run = (id: string, versions: Parameters<typeof world>[0]["versions"] = {}) => {
  const w = world({ size: 6, namePrefix: id, versions })
  const plan = {
    ...chunkPlan([...w.fleet.targets.keys()], 3),
    targets: [...w.fleet.targets.values()].map((t) => t.target)
  }
  return Effect.runPromise(
    startRollout({ config: configFor({ rolloutId: id }), spec: {}, plan: () => plan }).pipe(
      Effect.provide(Layer.mergeAll(w.layer, RolloutMetrics.layer))
    )
  )
}

describe.skipIf(binary === undefined)("Sluice's own metrics (real Prometheus)", () => {
  it("counts rollouts by outcome, waves, targets and adapter calls, and Prometheus scrapes them", async () => {
    const ok = await run("ok")
    const bad = await run("bad", { [V2]: { behaviour: { kind: "failAfter", afterMs: 0 } } })
    expect(ok.outcome).toBe("completed")
    expect(bad.outcome).toBe("rolledBack")
    const completed = await eventually(
      () => prometheus.query('sluice_rollouts_finished_total{outcome="completed"}'),
      (v) => v === 1
    )
    expect(completed).toBe(1)
    expect(await prometheus.query('sluice_rollouts_finished_total{outcome="rolledBack"}')).toBe(1)
    expect(await prometheus.query("sluice_rollouts_started_total")).toBe(2)
    expect(await prometheus.query("sluice_rollouts_active")).toBe(0)
    // Every target of the good rollout was applied, plus those of the bad one before it failed.
    const applied = (await prometheus.query('sluice_targets_total{state="applied"}'))!
    expect(applied).toBe(6 + bad.touched.length)
    expect(await prometheus.query('sluice_targets_total{state="rolled_back"}')).toBe(bad.rolledBack.length)
    expect(await prometheus.query('sum(sluice_adapter_calls_total{operation="apply",result="ok"})')).toBe(applied)
    expect(await prometheus.query('sluice_adapter_call_duration_seconds_count{operation="apply"}')).toBe(applied)
    expect(await prometheus.query("sluice_waves_started_total")).toBe(2 + 1)
    expect(await prometheus.query("sluice_wave_duration_seconds_count")).toBe(2)
    expect((await prometheus.query("sluice_journal_appends_total"))!).toBeGreaterThan(0)
    expect((await prometheus.query("sluice_journal_append_duration_seconds_count"))!).toBeGreaterThan(0)
  }, 90_000)

  it("keeps labels bounded: no target or rollout id in any label", async () => {
    const text = await scrape()
    const labels = new Set<string>()
    for (const line of text.split("\n")) {
      if (!line.startsWith("sluice_")) continue
      for (const m of line.matchAll(/([a-zA-Z_]+)="/g)) labels.add(m[1]!)
    }
    expect(labels.size).toBeGreaterThan(0)
    for (const label of labels) expect(["outcome", "state", "gate", "result", "operation", "le"]).toContain(label)
    expect(text).not.toMatch(/ok-\d|bad-\d/)
  })
})
