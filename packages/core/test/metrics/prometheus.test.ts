import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, Exit, Layer } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MetricsProvider } from "../../src/adapter/MetricsProvider.js"
import { PrometheusMetrics, queryPrometheus } from "../../src/adapter/PrometheusMetrics.js"
import { freePort } from "../support/net.js"
import { prometheusBinary, type RunningPrometheus, startPrometheus } from "../support/prometheus.js"

/** Queries go through Effect's HttpClient; the tests use the fetch-backed one against real Prometheus. */
const viaHttp = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) =>
  Effect.provide(effect, FetchHttpClient.layer)

// A real Prometheus (Debian's package) scrapes a tiny exporter that this test serves; the
// provider then reads through Prometheus' own HTTP API.
const binary = prometheusBinary("the Prometheus analysis suite")
const available = binary !== undefined

let exporter: http.Server
let prometheus: RunningPrometheus
let address = ""
const metricsText = [
  'agent_error_ratio{rollout="r1",wave="0"} 0.01',
  'agent_error_ratio{rollout="r1",wave="1"} 0.2',
  ""
].join("\n")

beforeAll(async () => {
  if (binary === undefined) return
  exporter = http.createServer((_req, res) => res.end(metricsText)).listen(0, "127.0.0.1")
  await new Promise((r) => exporter.once("listening", r))
  prometheus = await startPrometheus(binary, [`127.0.0.1:${(exporter.address() as AddressInfo).port}`])
  address = prometheus.address
  // Wait until Prometheus has scraped the exporter at least once.
  for (let i = 0; i < 300; i++) {
    const exit = await Effect.runPromiseExit(
      viaHttp(queryPrometheus(address, 'count(agent_error_ratio{rollout="r1"})'))
    )
    if (Exit.isSuccess(exit) && exit.value === 2) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error("Prometheus never scraped the test exporter")
}, 60_000)

afterAll(() => {
  prometheus?.stop()
  exporter?.close()
})

const scope = (wave: number) => ({ rolloutId: "r1", wave, targets: [] })
const analysis = { name: "errors", successCondition: "result < 0.05", count: 1, intervalMs: 0 }

describe.skipIf(!available)("Prometheus analysis provider (real Prometheus)", () => {
  it("reads the value of a one-sample query, with {{rollout}} and {{wave}} filled in", async () => {
    const program = Effect.gen(function* () {
      const metrics = yield* MetricsProvider
      return yield* metrics.query(
        { ...analysis, query: 'agent_error_ratio{rollout="{{rollout}}",wave="{{wave}}"}', address },
        scope(1)
      )
    })
    expect(
      await Effect.runPromise(
        program.pipe(Effect.provide(PrometheusMetrics().pipe(Layer.provide(FetchHttpClient.layer))))
      )
    ).toBe(0.2)
  })

  it("fails closed on a query with no data", async () => {
    const exit = await Effect.runPromiseExit(viaHttp(queryPrometheus(address, 'agent_error_ratio{rollout="nope"}')))
    expect(JSON.stringify(exit)).toContain("no data")
  })

  it("fails closed on a query matching several series", async () => {
    const exit = await Effect.runPromiseExit(viaHttp(queryPrometheus(address, "agent_error_ratio")))
    expect(JSON.stringify(exit)).toContain("expected exactly one sample, got 2")
  })

  it("reports Prometheus' own error for invalid PromQL", async () => {
    const exit = await Effect.runPromiseExit(viaHttp(queryPrometheus(address, "sum((")))
    expect(JSON.stringify(exit)).toContain("Prometheus rejected the query: bad_data")
  })

  it("fails with the address named when Prometheus cannot be reached", async () => {
    const port = await freePort()
    const exit = await Effect.runPromiseExit(viaHttp(queryPrometheus(`http://127.0.0.1:${port}`, "up", 2_000)))
    expect(JSON.stringify(exit)).toContain(`cannot query Prometheus at http://127.0.0.1:${port}`)
  })
})
