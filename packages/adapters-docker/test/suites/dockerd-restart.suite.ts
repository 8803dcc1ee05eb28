/**
 * dockerd restarted in the middle of a rollout (provision.sh --restart: SIGTERM, then the same
 * dockerd command line again). Calls that hit the outage must fail as *transient* AdapterErrors, and
 * retrying them (as the interpreter's Schedule does) must complete the rollout.
 */
import { execFile } from "node:child_process"
import * as path from "node:path"
import type { AdapterError, Target } from "@sluice/core"
import { Cause, Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ASIDE_MARK, type DockerAdapterShape, makeDockerAdapter, rolloutKey } from "../../src/index.js"
import {
  containerNames,
  docker,
  engineReady,
  eventually,
  inspect,
  ownsDockerd,
  removeSuiteContainers,
  repoRoot,
  sleep,
  socketPath
} from "../support/engine.js"
import { createAgent } from "../support/fleet.js"
import { artifactOf } from "../support/waves.js"

const SUITE = "dockerd-restart"
const NAMES = ["rs-agent-0", "rs-agent-1", "rs-agent-2", "rs-agent-3"]
const target = (name: string): Target => ({ id: `local/${name}`, name, labels: {} })

const owned = engineReady && ownsDockerd()
if (engineReady && !owned) {
  const msg =
    "!! dockerd-restart test: the running dockerd was not started by scripts/docker/provision.sh, so it will not be restarted"
  if (process.env.CI === "true") throw new Error(`${msg} (CI=true: failing)`)
  console.warn(`\n${msg}\n!! SKIPPING it.\n`)
}

const restartDockerd = () =>
  new Promise<string>((resolve, reject) =>
    execFile(
      "bash",
      [path.join(repoRoot, "scripts/docker/provision.sh"), "--restart"],
      { timeout: 120_000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout + stderr))
    )
  )

const engineDown = async () => {
  try {
    await docker.ping()
    return false
  } catch {
    return true
  }
}

describe.skipIf(!owned)("dockerd restarted mid-rollout, on a real Docker engine", () => {
  let adapter: DockerAdapterShape
  const transientErrors: Array<AdapterError> = []

  /** What the interpreter does: retry transient AdapterErrors with a delay, fail on permanent ones. */
  const withRetry = async <A>(what: string, effect: () => Effect.Effect<A, AdapterError>): Promise<A> => {
    for (let attempt = 0; attempt < 120; attempt++) {
      const exit = await Effect.runPromiseExit(effect())
      if (Exit.isSuccess(exit)) return exit.value
      const e = Cause.squash(exit.cause) as AdapterError
      if (e?._tag !== "AdapterError" || !e.transient)
        throw new Error(`${what}: permanent failure: ${String(exit.cause)}`)
      transientErrors.push(e)
      await sleep(500)
    }
    const last = transientErrors[transientErrors.length - 1]
    throw new Error(`${what}: still failing after 120 attempts; last error: ${last?.message ?? "none"}`)
  }

  beforeAll(async () => {
    adapter = await Effect.runPromise(
      makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${socketPath}` }], dockerConfig: false })
    )
    await removeSuiteContainers(SUITE)
    for (const n of NAMES) await createAgent({ suite: SUITE, name: n, group: "a", rich: false })
  }, 120_000)
  afterAll(async () => {
    await eventually("the engine back", async () => ((await engineDown()) ? undefined : true), 60_000)
    await removeSuiteContainers(SUITE)
  }, 120_000)

  it("calls during the outage fail as transient AdapterErrors; retrying completes: every container on v2, none duplicated, none lost", async () => {
    const rolloutId = "dockerd-restart"
    const artifact = artifactOf("sluice-test/agent:v2")
    const apply = (n: string) =>
      withRetry(`apply ${n}`, () => adapter.apply(target(n), artifact, { rolloutId, wave: 0, mode: "replace" }))
    await apply(NAMES[0] as string)
    // Restart the daemon while the next apply runs; the ones after start once the engine is down.
    const restarting = restartDockerd()
    const during = apply(NAMES[1] as string).then(
      () => undefined,
      (e: unknown) => e
    )
    await eventually("dockerd going down", async () => ((await engineDown()) ? true : undefined), 30_000, 20)
    for (const n of NAMES.slice(2)) await apply(n)
    expect(await during).toBeUndefined()
    const log = await restarting
    expect(log).toMatch(/restarted in/)

    // The outage was seen, and only as transient errors.
    expect(transientErrors.length).toBeGreaterThan(0)
    for (const e of transientErrors) expect(e.transient).toBe(true)

    for (const n of NAMES) {
      expect(await containerNames(n), n).toEqual([n, `${n}${ASIDE_MARK}${rolloutKey(rolloutId)}`].sort())
      const health = await eventually(
        `${n} healthy`,
        async () => {
          const h = await withRetry(`health ${n}`, () => adapter.health(target(n)))
          return h.status === "healthy" ? h : undefined
        },
        60_000
      )
      expect(health.status).toBe("healthy")
      const c = await inspect(n)
      expect(c.Config.Image, n).toBe("sluice-test/agent:v2")
      expect(c.State.Running, n).toBe(true)
      expect((await inspect(`${n}${ASIDE_MARK}${rolloutKey(rolloutId)}`)).State.Running, n).toBe(false)
    }
    await withRetry("finalize", () => adapter.finalize(NAMES.map(target)))
    for (const n of NAMES) expect(await containerNames(n)).toEqual([n])
  }, 300_000)
})
