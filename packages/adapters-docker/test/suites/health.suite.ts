/** Health on the real engine: HEALTHCHECK, probes with thresholds, restart loops, exits, minReadySeconds. */
import type { HealthReport, Target } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DockerAdapterShape, makeDockerAdapter } from "../../src/index.js"
import { engineReady, execIn, removeSuiteContainers, sleep, socketPath } from "../support/engine.js"
import { createAgent } from "../support/fleet.js"
import { waitHealth } from "../support/waves.js"

const SUITE = "health"
const NO_HEALTHCHECK = { Test: ["NONE"] }

describe.skipIf(!engineReady)("health on a real Docker engine", () => {
  let adapter: DockerAdapterShape
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  const health = (t: Target) => run(adapter.health(t))
  /** Discovers one container with the given health settings (they travel in the selector). */
  const discoverOne = async (name: string, healthConfig?: unknown) => {
    const ts = await run(
      adapter.discover({ names: [name], includeStopped: true, ...(healthConfig ? { health: healthConfig } : {}) })
    )
    expect(ts.map((t) => t.name)).toEqual([name])
    return ts[0] as Target
  }
  /** Polls until the status is not `progressing`, recording every report seen. */
  const settle = async (t: Target, timeoutMs = 30_000) => {
    const seen: Array<HealthReport> = []
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const r = await health(t)
      seen.push(r)
      if (r.status !== "progressing") return { final: r, seen }
      await sleep(150)
    }
    return { final: seen.at(-1) as HealthReport, seen }
  }

  beforeAll(async () => {
    adapter = await run(
      makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${socketPath}` }], dockerConfig: false })
    )
    await removeSuiteContainers(SUITE)
  }, 60_000)
  afterAll(() => removeSuiteContainers(SUITE), 60_000)

  it("uses the container's own HEALTHCHECK: starting is progressing, then healthy", async () => {
    // The image's HEALTHCHECK (every 1s) with a long start period, on an agent that serves /health
    // only once the test writes it: the container is `starting` until then, however slow the machine
    // (the first check would otherwise turn it healthy ~1s after start, maybe before the first call).
    const c = await createAgent({
      suite: SUITE,
      name: "hl-hc-ok",
      group: "a",
      rich: false,
      env: ["AGENT_UNHEALTHY=1"],
      healthcheck: { StartPeriod: 600_000_000_000 }
    })
    const t = await discoverOne("hl-hc-ok")
    expect(await health(t)).toEqual({ status: "progressing", reason: "HEALTHCHECK starting" })
    await execIn(c.Id, ["sh", "-c", "echo ok > /tmp/www/health"])
    const { final, seen } = await settle(t)
    expect(final).toEqual({ status: "healthy" })
    expect(seen.slice(0, -1).every((r) => r.status === "progressing")).toBe(true)
  }, 60_000)

  it("a failing HEALTHCHECK is unhealthy, with the check's streak in the reason", async () => {
    await createAgent({ suite: SUITE, name: "hl-hc-bad", group: "b", rich: false, image: "sluice-test/agent:v3" })
    const { final } = await settle(await discoverOne("hl-hc-bad"))
    expect(final.status).toBe("unhealthy")
    expect(final.reason).toMatch(/HEALTHCHECK failing \(\d+ in a row/)
  }, 60_000)

  it("without a HEALTHCHECK, an HTTP probe decides: healthy on 200, unhealthy after failureThreshold failures", async () => {
    await createAgent({ suite: SUITE, name: "hl-http", group: "a", rich: false, healthcheck: NO_HEALTHCHECK })
    const ok = await settle(
      await discoverOne("hl-http", {
        probe: { action: { type: "http", port: 8080, path: "/health" }, periodSeconds: 0.2 }
      })
    )
    expect(ok.final).toEqual({ status: "healthy" })
    const bad = await settle(
      await discoverOne("hl-http", {
        probe: { action: { type: "http", port: 8080, path: "/nope" }, periodSeconds: 0.2, failureThreshold: 3 }
      })
    )
    expect(bad.final.status).toBe("unhealthy")
    expect(bad.final.reason).toMatch(/probe failing \(3 in a row\): GET http:\/\/127\.0\.0\.1:\d+\/nope → 404/)
    expect(bad.seen.filter((r) => r.status === "progressing").length).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it("an HTTP probe reaches an unpublished port on the container's IP", async () => {
    await createAgent({
      suite: SUITE,
      name: "hl-http-ip",
      group: "a",
      rich: false,
      noPorts: true,
      healthcheck: NO_HEALTHCHECK
    })
    const r = await settle(
      await discoverOne("hl-http-ip", {
        probe: { action: { type: "http", port: 8080, path: "/health" }, periodSeconds: 0.2 }
      })
    )
    expect(r.final).toEqual({ status: "healthy" })
  }, 60_000)

  it("a TCP probe is healthy on an open port and unhealthy on a closed one", async () => {
    await createAgent({ suite: SUITE, name: "hl-tcp", group: "a", rich: false, healthcheck: NO_HEALTHCHECK })
    expect(
      (
        await settle(
          await discoverOne("hl-tcp", { probe: { action: { type: "tcp", port: 8080 }, periodSeconds: 0.2 } })
        )
      ).final
    ).toEqual({
      status: "healthy"
    })
    const closed = await settle(
      await discoverOne("hl-tcp", {
        probe: { action: { type: "tcp", port: 9, via: "container-ip" }, periodSeconds: 0.2, failureThreshold: 1 }
      })
    )
    expect(closed.final.status).toBe("unhealthy")
    expect(closed.final.reason).toMatch(/tcp .*:9/)
  }, 60_000)

  it("an exec probe runs inside the container; successThreshold needs consecutive successes; initialDelaySeconds holds it back", async () => {
    await createAgent({ suite: SUITE, name: "hl-exec", group: "a", rich: false, healthcheck: NO_HEALTHCHECK })
    const exec = (initialDelaySeconds: number) => ({
      probe: {
        action: { type: "exec", command: ["cat", "/tmp/www/health"] },
        periodSeconds: 0.3,
        successThreshold: 2,
        initialDelaySeconds
      }
    })
    // An initial delay longer than any test run holds it back, however long the container has run
    // (a 1s delay may be over before the first call on a loaded machine).
    expect(await health(await discoverOne("hl-exec", exec(3600)))).toEqual({
      status: "progressing",
      reason: "probe: initial delay (3600s)"
    })
    const { final, seen } = await settle(await discoverOne("hl-exec", exec(1)))
    expect(final).toEqual({ status: "healthy" })
    expect(
      seen.some((r) => r.status === "progressing" && /exec cat \/tmp\/www\/health → exit 0/.test(r.reason ?? ""))
    ).toBe(true)
    const failing = await settle(
      await discoverOne("hl-exec", {
        probe: { action: { type: "exec", command: ["false"] }, periodSeconds: 0.2, failureThreshold: 2 }
      })
    )
    expect(failing.final.status).toBe("unhealthy")
    expect(failing.final.reason).toMatch(/exec false → exit 1/)
  }, 60_000)

  it("the rollout spec's probe (spec.health.probe, passed to health) decides when there is no HEALTHCHECK", async () => {
    await createAgent({ suite: SUITE, name: "hl-specprobe", group: "a", rich: false, healthcheck: NO_HEALTHCHECK })
    const t = await discoverOne("hl-specprobe")
    const poll = async (probe: unknown) => {
      for (let i = 0; i < 100; i++) {
        const r = await run(adapter.health(t, { probe: probe as never }))
        if (r.status !== "progressing") return r
        await sleep(150)
      }
      return { status: "progressing" as const }
    }
    expect(await poll({ http: { port: 8080, path: "/health" }, period: 200, failureThreshold: 2 })).toEqual({
      status: "healthy"
    })
    const bad = await poll({ http: { port: 8080, path: "/missing" }, period: 200, failureThreshold: 2 })
    expect(bad.status).toBe("unhealthy")
    expect(bad.reason).toMatch(/\/missing → 404/)
  }, 60_000)

  it("a container in a restart loop is unhealthy", async () => {
    await createAgent({
      suite: SUITE,
      name: "hl-loop",
      group: "a",
      rich: false,
      env: ["AGENT_CRASH=1"],
      restartPolicy: "always"
    })
    const { final } = await settle(await discoverOne("hl-loop"))
    expect(final.status).toBe("unhealthy")
    expect(final.reason).toMatch(/restart loop|restarting/)
  }, 60_000)

  it("a container that exited is unhealthy, with its exit code", async () => {
    await createAgent({
      suite: SUITE,
      name: "hl-exit",
      group: "a",
      rich: false,
      env: ["AGENT_CRASH=1"],
      restartPolicy: "no"
    })
    await sleep(500)
    const { final } = await settle(await discoverOne("hl-exit"))
    expect(final.status).toBe("unhealthy")
    expect(final.reason).toMatch(/exit code 1/)
  }, 60_000)

  it("minReadySeconds keeps a healthy container progressing until it has been healthy that long", async () => {
    await createAgent({ suite: SUITE, name: "hl-minready", group: "a", rich: false })
    const t = await discoverOne("hl-minready", { minReadySeconds: 2 })
    const started = Date.now()
    const seen: Array<HealthReport> = []
    let r = await health(t)
    while (r.status === "progressing" && Date.now() - started < 30_000) {
      seen.push(r)
      await sleep(200)
      r = await health(t)
    }
    expect(r).toEqual({ status: "healthy" })
    expect(seen.some((x) => /minReadySeconds 2/.test(x.reason ?? ""))).toBe(true)
    const ready = await waitHealth(adapter, t)
    expect(ready.status).toBe("healthy")
  }, 60_000)
})
