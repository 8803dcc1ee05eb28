/**
 * Pulls from the local registry (Debian's docker-registry on 127.0.0.1:5000, basic auth; started by
 * scripts/docker/registry.sh) and the policy preview of an image that is only in the registry.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { AdapterError, Target } from "@sluice/core"
import { Cause, Effect, Exit, Layer, Logger, References } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DockerAdapterShape, makeDockerAdapter } from "../../src/index.js"
import {
  docker,
  engineReady,
  imageInspect,
  inspect,
  type Json,
  PROVISION_HINT,
  registryPassword,
  removeSuiteContainers,
  socketPath
} from "../support/engine.js"
import { createAgent, tempDir } from "../support/fleet.js"
import { artifactOf, waitHealth } from "../support/waves.js"

const SUITE = "registry"
const REGISTRY = "localhost:5000"
const target = (name: string): Target => ({ id: `local/${name}`, name, labels: {} })

const registryUp = await (async () => {
  if (!engineReady) return false
  try {
    const res = await fetch("http://127.0.0.1:5000/v2/")
    if (res.status === 401 && registryPassword) return true
  } catch {
    // down
  }
  const msg = `!! registry tests: no registry with basic auth on 127.0.0.1:5000 (run: ${PROVISION_HINT})`
  if (process.env.CI === "true") throw new Error(msg)
  console.warn(`\n${msg}\n!! SKIPPING the registry tests.\n`)
  return false
})()

/** Removes the registry tag locally (the image stays under sluice-test/agent), so the adapter must go to the registry. */
const untag = async (v: string) => {
  try {
    await docker.getImage(`${REGISTRY}/sluice/agent:${v}`).remove({ noprune: true })
  } catch {
    // not tagged
  }
}
const retagAll = async () => {
  for (const v of ["v1", "v2", "v3", "v4"])
    await docker.getImage(`sluice-test/agent:${v}`).tag({ repo: `${REGISTRY}/sluice/agent`, tag: v })
}

/** Everything written to stdout/stderr and every Effect log line while `f` runs. */
const captureOutput = async <A>(
  f: (logger: Layer.Layer<never>) => Promise<A>
): Promise<{ value: A; output: string }> => {
  const chunks: Array<string> = []
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  const tap =
    (orig: typeof out) =>
    (chunk: unknown, ...rest: Array<unknown>): boolean => {
      chunks.push(String(chunk))
      return (orig as (c: unknown, ...r: Array<unknown>) => boolean)(chunk, ...rest)
    }
  process.stdout.write = tap(out) as typeof process.stdout.write
  process.stderr.write = tap(err) as typeof process.stderr.write
  const logger = Layer.mergeAll(
    Logger.layer([Logger.make(({ message }) => chunks.push(JSON.stringify(message)))]),
    Layer.succeed(References.MinimumLogLevel, "Trace")
  )
  try {
    const value = await f(logger)
    return { value, output: chunks.join("\n") }
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
}

const secretForms = (s: string) => [s, Buffer.from(s).toString("base64"), Buffer.from(`sluice:${s}`).toString("base64")]

describe.skipIf(!registryUp)("registry pulls with credentials, on a real Docker engine and registry", () => {
  const password = registryPassword as string
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  const adapterWith = (extra: Record<string, unknown>) =>
    run(
      makeDockerAdapter({ hosts: [{ name: "local", endpoint: `unix://${socketPath}` }], dockerConfig: false, ...extra })
    )

  beforeAll(async () => {
    await removeSuiteContainers(SUITE)
  }, 60_000)
  afterAll(async () => {
    await removeSuiteContainers(SUITE)
    await retagAll()
  }, 60_000)

  it("pulls localhost:5000/sluice/agent:v2 with the configured credentials and rolls the container to it; no secret in any output", async () => {
    const adapter: DockerAdapterShape = await adapterWith({
      registries: { [REGISTRY]: { username: "sluice", password } }
    })
    await createAgent({ suite: SUITE, name: "rg-agent", group: "a", rich: false })
    await untag("v2")
    const { value: revision, output } = await captureOutput((logger) =>
      run(
        adapter
          .apply(target("rg-agent"), artifactOf(`${REGISTRY}/sluice/agent:v2`), {
            rolloutId: "rg-1",
            wave: 0,
            mode: "replace"
          })
          .pipe(Effect.provide(logger))
      )
    )
    const c = await inspect("rg-agent")
    expect(c.Config.Image).toBe(`${REGISTRY}/sluice/agent:v2`)
    const pulled = await imageInspect(`${REGISTRY}/sluice/agent:v2`)
    expect(pulled.RepoDigests.some((d: string) => d.startsWith(`${REGISTRY}/sluice/agent@sha256:`))).toBe(true)
    expect(c.Image).toBe(pulled.Id)
    expect((await waitHealth(adapter, target("rg-agent"))).status).toBe("healthy")
    for (const s of secretForms(password)) {
      expect(output.includes(s)).toBe(false)
      expect(JSON.stringify(revision).includes(s)).toBe(false)
    }
  }, 120_000)

  it("takes the credentials from Docker's config.json (auths) when the adapter has none of its own", async () => {
    const dir = tempDir("sluice-dockercfg-")
    const file = path.join(dir, "config.json")
    fs.writeFileSync(
      file,
      JSON.stringify({ auths: { [REGISTRY]: { auth: Buffer.from(`sluice:${password}`).toString("base64") } } }),
      { mode: 0o600 }
    )
    const adapter = await adapterWith({ dockerConfig: file })
    await createAgent({ suite: SUITE, name: "rg-agent-cfg", group: "a", rich: false })
    await untag("v2")
    await run(
      adapter.apply(target("rg-agent-cfg"), artifactOf(`${REGISTRY}/sluice/agent:v2`), {
        rolloutId: "rg-2",
        wave: 0,
        mode: "replace"
      })
    )
    expect((await inspect("rg-agent-cfg")).Config.Image).toBe(`${REGISTRY}/sluice/agent:v2`)
  }, 120_000)

  it("a wrong password fails with an error naming the registry and the user, is not retried as transient, leaves the container untouched, and prints no secret", async () => {
    const wrong = `wrong-${Math.random().toString(36).slice(2)}-pw`
    const adapter = await adapterWith({ registries: { [REGISTRY]: { username: "sluice", password: wrong } } })
    const before = await createAgent({ suite: SUITE, name: "rg-agent-bad", group: "a", rich: false })
    await untag("v2")
    const { value: exit, output } = await captureOutput((logger) =>
      Effect.runPromiseExit(
        adapter
          .apply(target("rg-agent-bad"), artifactOf(`${REGISTRY}/sluice/agent:v2`), {
            rolloutId: "rg-3",
            wave: 0,
            mode: "replace"
          })
          .pipe(Effect.provide(logger))
      )
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? (Cause.squash(exit.cause) as AdapterError) : undefined
    expect(error?._tag).toBe("AdapterError")
    expect(error?.message).toMatch(
      /registry localhost:5000 refused access with credentials of user "sluice" from adapter config/
    )
    expect(error?.message).toMatch(/unauthorized|authentication required/)
    expect(error?.transient).toBe(false)
    const everything = `${output}\n${JSON.stringify(error)}\n${String(exit)}\n${error?.message}`
    for (const s of secretForms(wrong))
      expect(everything.includes(s), `secret form ${s.slice(0, 4)}… leaked`).toBe(false)
    const after = await inspect("rg-agent-bad")
    expect(after.Id).toBe(before.Id)
    expect(after.State.StartedAt).toBe(before.State.StartedAt)
  }, 120_000)

  it("without credentials the error says none were found for the registry", async () => {
    const adapter = await adapterWith({})
    await createAgent({ suite: SUITE, name: "rg-agent-none", group: "a", rich: false })
    await untag("v2")
    const exit = await Effect.runPromiseExit(
      adapter.apply(target("rg-agent-none"), artifactOf(`${REGISTRY}/sluice/agent:v2`), {
        rolloutId: "rg-4",
        wave: 0,
        mode: "replace"
      })
    )
    const error = Exit.isFailure(exit) ? (Cause.squash(exit.cause) as AdapterError) : undefined
    expect(error?.message).toMatch(/registry localhost:5000 refused access with no credentials/)
  }, 60_000)

  it("render reads v4's configuration from the registry without pulling it: the policy input shows it runs as root", async () => {
    const adapter = await adapterWith({ registries: { [REGISTRY]: { username: "sluice", password } } })
    await createAgent({ suite: SUITE, name: "rg-agent-v4", group: "a", rich: false })
    await untag("v4")
    const state = await run(adapter.inspect(target("rg-agent-v4")))
    expect(adapter.render).toBeDefined()
    const rendered = await run(adapter.render!(state, artifactOf(`${REGISTRY}/sluice/agent:v4`)))
    const w = rendered as { source: string; container: Json; image: Json }
    expect(w.source).toBe("docker")
    expect(w.image.Config.User).toBe("0:0")
    expect(w.container.Config.User).toBe("0:0")
    expect(w.container.Config.Env).toContain("AGENT_VERSION=v4")
    // Its own settings are kept in the preview.
    expect(w.container.Config.Env).toContain("AGENT_SITE=a")
    // Nothing was pulled.
    await expect(imageInspect(`${REGISTRY}/sluice/agent:v4`)).rejects.toThrow()
    // The running container was not touched.
    expect((await inspect("rg-agent-v4")).Config.Image).toBe("sluice-test/agent:v1")
  }, 60_000)
})
