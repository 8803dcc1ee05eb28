/** Apply modes, rollback, cleanup and config-only rollouts, one container at a time, on the real engine. */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Revision, Target } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ASIDE_MARK, type DockerAdapterShape, makeDockerAdapter, rolloutKey } from "../../src/index.js"
import { compareRecreated } from "../support/compare.js"
import {
  containerNames,
  engineReady,
  eventually,
  imageInspect,
  inspect,
  inspectOpt,
  type Json,
  removeSuiteContainers,
  socketPath
} from "../support/engine.js"
import { agentGet, createAgent, tempDir } from "../support/fleet.js"
import { artifactOf, waitHealth } from "../support/waves.js"

const SUITE = "lifecycle"
const target = (name: string): Target => ({ id: `local/${name}`, name, labels: {} })
const applyCtx = (rolloutId: string, mode: "replace" | "surge" = "replace") => ({ rolloutId, wave: 0, mode })

describe.skipIf(!engineReady)("apply, rollback, cleanup and config-only on a real Docker engine", () => {
  let adapter: DockerAdapterShape
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)

  beforeAll(async () => {
    adapter = await run(
      makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${socketPath}` }], dockerConfig: false })
    )
    await removeSuiteContainers(SUITE)
  }, 60_000)
  afterAll(() => removeSuiteContainers(SUITE), 60_000)

  it("blue-green (surge) starts the new container before the old one stops; the old one is parked stopped under an aside name", async () => {
    const name = "lc-surge"
    await createAgent({ suite: SUITE, name, group: "a", rich: false })
    await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("surge-1", "surge")))
    const fresh = await inspect(name)
    const aside = await inspect(`${name}${ASIDE_MARK}${rolloutKey("surge-1")}`)
    expect(fresh.Config.Image).toBe("sluice-test/agent:v2")
    expect(aside.Config.Image).toBe("sluice-test/agent:v1")
    expect(aside.State.Running).toBe(false)
    // New one up first, old one stopped after.
    expect(Date.parse(fresh.State.StartedAt)).toBeLessThan(Date.parse(aside.State.FinishedAt))
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
  }, 120_000)

  it("a fixed host port makes even a surge apply a direct replace: the old container stops before the new one starts", async () => {
    const name = "lc-fixedport"
    await createAgent({ suite: SUITE, name, group: "a", rich: false, fixedPort: 18_099 })
    await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("fixed-1", "surge")))
    const fresh = await inspect(name)
    const aside = await inspect(`${name}${ASIDE_MARK}${rolloutKey("fixed-1")}`)
    expect(fresh.Config.Image).toBe("sluice-test/agent:v2")
    expect(Date.parse(aside.State.FinishedAt)).toBeLessThan(Date.parse(fresh.State.StartedAt))
    expect(fresh.HostConfig.PortBindings["8080/tcp"][0].HostPort).toBe("18099")
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
    expect(await agentGet(fresh, "version")).toBe("v2")
  }, 120_000)

  it("rollback restores the parked container itself (same id) under its name, removes the new one, and is idempotent", async () => {
    const name = "lc-rollback"
    const original = await createAgent({ suite: SUITE, name, group: "a" })
    const before = await run(adapter.inspect(target(name)))
    const applied = await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("rb-1")))
    const newId = (applied.data as { containerId: string }).containerId
    expect(newId).not.toBe(original.Id)
    await run(adapter.rollback(target(name), before.revision, { rolloutId: "rb-1", applied }))
    const restored = await inspect(name)
    expect(restored.Id).toBe(original.Id)
    expect(restored.State.Running).toBe(true)
    expect(await inspectOpt(newId)).toBeUndefined()
    expect(await containerNames(`${name}`)).toEqual([name])
    // A second rollback is a no-op: not restarted.
    await run(adapter.rollback(target(name), before.revision, { rolloutId: "rb-1", applied }))
    expect((await inspect(name)).State.StartedAt).toBe(restored.State.StartedAt)
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
  }, 120_000)

  it("rollback recreates the previous container from the revision when the old one was already cleaned up", async () => {
    const name = "lc-recreate"
    const original = await createAgent({ suite: SUITE, name, group: "a" })
    const v1 = await imageInspect("sluice-test/agent:v1")
    const before = await run(adapter.inspect(target(name)))
    await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("rc-1")))
    await run(adapter.finalize([target(name)]))
    expect(await inspectOpt(original.Id)).toBeUndefined()
    await run(adapter.rollback(target(name), before.revision, { rolloutId: "rc-1" }))
    const recreated = await inspect(name)
    expect(recreated.Image).toBe(v1.Id)
    const cmp = compareRecreated(original, v1, recreated, v1)
    expect(cmp.unexpected).toEqual([])
    expect(cmp.ownEnv.after).toEqual(cmp.ownEnv.before)
    expect(cmp.ownLabels.after).toEqual(cmp.ownLabels.before)
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
  }, 120_000)

  it("finalize removes the parked old containers but keeps the newest `keepOld`", async () => {
    const keeping = await run(
      makeDockerAdapter({
        hosts: [{ name: "local", endpoint: `unix://${socketPath}` }],
        dockerConfig: false,
        keepOld: 1
      })
    )
    const name = "lc-keep"
    const v1 = await createAgent({ suite: SUITE, name, group: "a", rich: false })
    await run(keeping.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("keep-1")))
    const v2Id = (await inspect(name)).Id
    await run(keeping.finalize([target(name)]))
    expect(await containerNames(name)).toEqual([name, `${name}${ASIDE_MARK}${rolloutKey("keep-1")}`].sort())
    await run(keeping.apply(target(name), artifactOf("sluice-test/agent:v1"), applyCtx("keep-2")))
    await run(keeping.finalize([target(name)]))
    // Only the newest parked container (the v2 one) is kept; the original v1 container is gone.
    expect(await containerNames(name)).toEqual([name, `${name}${ASIDE_MARK}${rolloutKey("keep-2")}`].sort())
    expect((await inspect(`${name}${ASIDE_MARK}${rolloutKey("keep-2")}`)).Id).toBe(v2Id)
    expect(await inspectOpt(v1.Id)).toBeUndefined()
  }, 120_000)

  it("config-only: rewrites a bind-mounted config file and delivers SIGHUP without recreating; rollback restores the file and signals again", async () => {
    const name = "lc-config"
    const dir = tempDir("sluice-config-")
    fs.chmodSync(dir, 0o755)
    fs.writeFileSync(path.join(dir, "config.txt"), "level=info\n")
    const original = await createAgent({ suite: SUITE, name, group: "a", rich: false, configDir: dir })
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
    expect(await agentGet(original, "config")).toBe("level=info")
    const before = await run(adapter.inspect(target(name)))
    const artifact = artifactOf("sluice-test/agent:v1", { files: { "/etc/agent/config.txt": "level=debug\n" } })
    await run(adapter.apply(target(name), artifact, applyCtx("cfg-1")))
    const after = await inspect(name)
    expect(after.Id).toBe(original.Id)
    expect(after.State.StartedAt).toBe(original.State.StartedAt)
    expect(fs.readFileSync(path.join(dir, "config.txt"), "utf8")).toBe("level=debug\n")
    await eventually(
      "the agent reloads",
      async () => ((await agentGet(after, "reloads")) === "1" ? true : undefined),
      10_000
    )
    expect(await agentGet(after, "config")).toBe("level=debug")
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")

    await run(adapter.rollback(target(name), before.revision, { rolloutId: "cfg-1" }))
    expect((await inspect(name)).Id).toBe(original.Id)
    expect(fs.readFileSync(path.join(dir, "config.txt"), "utf8")).toBe("level=info\n")
    await eventually(
      "the agent reloads again",
      async () => ((await agentGet(after, "reloads")) === "2" ? true : undefined),
      10_000
    )
    expect(await agentGet(after, "config")).toBe("level=info")
  }, 120_000)

  it("an environment change recreates the container with the new value and keeps the rest; re-applying it is a no-op", async () => {
    const name = "lc-env"
    const original = await createAgent({ suite: SUITE, name, group: "a" })
    const v1 = await imageInspect("sluice-test/agent:v1")
    const artifact = artifactOf("sluice-test/agent:v1", { env: { AGENT_LOG_LEVEL: "warn" } })
    await run(adapter.apply(target(name), artifact, applyCtx("env-1")))
    const after = await inspect(name)
    expect(after.Id).not.toBe(original.Id)
    expect(after.Config.Env).toContain("AGENT_LOG_LEVEL=warn")
    expect(after.Config.Env).not.toContain("AGENT_LOG_LEVEL=debug")
    const cmp = compareRecreated(original, v1, after, v1)
    expect(cmp.unexpected).toEqual([])
    await run(adapter.apply(target(name), artifact, applyCtx("env-1")))
    expect((await inspect(name)).Id).toBe(after.Id)
  }, 120_000)

  it("re-running an apply finishes whatever step a crash left behind (parked old, half-created new, new not started)", async () => {
    const name = "lc-resume"
    const original = await createAgent({ suite: SUITE, name, group: "a" })
    const key = rolloutKey("resume-1")
    const docker = adapter.engines.get("local")!.docker
    // State 1: stopped and parked aside, name free (crash right after the rename).
    await docker.getContainer(original.Id).stop({ t: 5 })
    await docker.getContainer(original.Id).rename({ name: `${name}${ASIDE_MARK}${key}` })
    // State 2 on top: a half-configured replacement under the temporary name (crash during create).
    await docker.createContainer({ name: `${name}.sluice-new.${key}`, Image: "sluice-test/agent:v2" })
    await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("resume-1")))
    const done = await inspect(name)
    expect(done.Config.Image).toBe("sluice-test/agent:v2")
    expect(done.State.Running).toBe(true)
    expect(await containerNames(name)).toEqual([name, `${name}${ASIDE_MARK}${key}`].sort())
    const v1 = await imageInspect("sluice-test/agent:v1")
    const v2 = await imageInspect("sluice-test/agent:v2")
    expect(compareRecreated(original, v1, done, v2).unexpected).toEqual([])
    // State 3: the new one renamed but not started (crash before start).
    await docker.getContainer(done.Id).stop({ t: 5 })
    await run(adapter.apply(target(name), artifactOf("sluice-test/agent:v2"), applyCtx("resume-1")))
    const again = await inspect(name)
    expect(again.Id).toBe(done.Id)
    expect(again.State.Running).toBe(true)
    expect((await waitHealth(adapter, target(name))).status).toBe("healthy")
  }, 120_000)

  it("inspect describes the container for the policies and a revision that recreates it", async () => {
    const name = "lc-inspect"
    await createAgent({ suite: SUITE, name, group: "a" })
    const state = await run(adapter.inspect(target(name)))
    expect(state.revision.image).toBe("sluice-test/agent:v1")
    const w = state.workload as { source: string; container: Json; image: Json }
    expect(w.source).toBe("docker")
    expect(w.container.Name).toBe(`/${name}`)
    expect(w.image.Config.User).toBe("10001:10001")
    const data = state.revision.data as { create: { config: Json; hostConfig: Json } }
    // The revision keeps the container's own settings, not its image's.
    expect(data.create.config.Env).toEqual(["AGENT_SITE=a", "AGENT_LOG_LEVEL=debug"])
    expect(data.create.config.User).toBeUndefined()
    expect(data.create.hostConfig.RestartPolicy).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 })
    // JSON round trip: what the journal stores is enough.
    expect(JSON.parse(JSON.stringify(state.revision)) as Revision).toEqual(state.revision)
  }, 60_000)
})
