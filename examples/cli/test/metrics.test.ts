import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort } from "../../../packages/core/test/support/net.js"
import {
  eventually,
  prometheusBinary,
  type RunningPrometheus,
  startPrometheus
} from "../../../packages/core/test/support/prometheus.js"
import { fixture, sluice, tmpStore } from "./helpers.js"

// `sluice apply --metrics-port` serves Sluice's own metrics while the rollout runs; a real
// Prometheus scrapes them.
const binary = prometheusBinary("the CLI metrics suite")
let port = 0
let prometheus: RunningPrometheus

beforeAll(async () => {
  if (binary === undefined) return
  port = await freePort()
  prometheus = await startPrometheus(binary, [`127.0.0.1:${port}`])
  // Ready once it has tried the (not yet listening) target: `up` is then 0.
  await eventually(
    () => prometheus.query("up"),
    (v) => v !== undefined,
    60_000
  )
}, 90_000)

afterAll(() => prometheus?.stop())

describe.skipIf(binary === undefined)("sluice apply --metrics-port (real Prometheus)", () => {
  it("serves the metrics while the rollout runs, and Prometheus scrapes them", async () => {
    const store = tmpStore()
    // Slow enough (30 targets, ~450 ms each, a few at a time) that Prometheus, scraping every second,
    // sees it mid-run.
    const run = sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--id",
      "m1",
      "--plain",
      "--store",
      store,
      "--fleet-size",
      "30",
      "--apply-latency",
      "400ms..500ms",
      "--ready-latency",
      "50ms..100ms",
      "--metrics-port",
      String(port)
    ])
    const r = await run
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`metrics: http://127.0.0.1:${port}/metrics`)
    // Scraped while it ran: the rollout was active, and targets were being applied.
    const active = await eventually(
      () => prometheus.query("max_over_time(sluice_rollouts_active[5m])"),
      (v) => v === 1,
      30_000
    )
    expect(active).toBe(1)
    const applied = await prometheus.query('max_over_time(sluice_targets_total{state="applied"}[5m])')
    expect(applied).toBeGreaterThan(0)
    expect(applied).toBeLessThanOrEqual(30)
  }, 90_000)

  it("refuses a malformed --metrics-port before touching anything (exit 64)", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", fixture("rolling.yaml"), "--store", store, "--metrics-port", "nope"])
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('--metrics-port "nope" is not [host:]port')
  })
})
