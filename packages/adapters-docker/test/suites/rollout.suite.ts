/**
 * Rollouts on the real engine: 10 containers in two host groups — host-a over the unix socket,
 * host-b over tcp with mutual TLS (the same engine reached as a remote host when provision.sh set
 * up the TLS endpoint).
 */
import * as path from "node:path"
import type { Target } from "@sluice/core"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DockerAdapterShape, makeDockerAdapter } from "../../src/index.js"
import { compareRecreated, compareRestored } from "../support/compare.js"
import {
  containerNames,
  engineReady,
  ensureNetwork,
  imageInspect,
  inspect,
  type Json,
  removeNetwork,
  removeSuiteContainers,
  socketPath,
  tlsDir,
  tlsEndpoint
} from "../support/engine.js"
import { createAgent } from "../support/fleet.js"
import { artifactOf, rollWaves } from "../support/waves.js"

const SUITE = "rollout"
const NET_A = "sluice-test-rollout-a"
const NET_B = "sluice-test-rollout-b"
const names = [
  ...Array.from({ length: 5 }, (_, i) => ({ name: `rl-agent-a${i}`, group: "a" })),
  ...Array.from({ length: 5 }, (_, i) => ({ name: `rl-agent-b${i}`, group: "b" }))
]

const hosts = () => [
  {
    name: "host-a",
    endpoint: `unix://${socketPath}`,
    labels: { site: "a", rack: "r1" },
    containerLabels: { "io.sluice.test.group": "a" }
  },
  tlsEndpoint && tlsDir
    ? {
        name: "host-b",
        endpoint: tlsEndpoint,
        tls: {
          ca: path.join(tlsDir, "ca.pem"),
          cert: path.join(tlsDir, "cert.pem"),
          key: path.join(tlsDir, "key.pem")
        },
        labels: { site: "b", rack: "r2" },
        containerLabels: { "io.sluice.test.group": "b" }
      }
    : {
        name: "host-b",
        endpoint: `unix://${socketPath}`,
        labels: { site: "b", rack: "r2" },
        containerLabels: { "io.sluice.test.group": "b" }
      }
]

const createFleet = async () => {
  await removeSuiteContainers(SUITE)
  await Promise.all([ensureNetwork(NET_A), ensureNetwork(NET_B)])
  for (const n of names) {
    await createAgent({
      suite: SUITE,
      name: n.name,
      group: n.group,
      networks: [NET_A, NET_B],
      // v3 newly requires AGENT_ENDPOINT: only site a has it.
      env: n.group === "a" ? ["AGENT_ENDPOINT=https://collector.internal"] : []
    })
  }
}

const snapshot = async () => {
  const out = new Map<string, Json>()
  for (const n of names) out.set(n.name, await inspect(n.name))
  return out
}

describe.skipIf(!engineReady)("rollouts on a real Docker engine", () => {
  let adapter: DockerAdapterShape
  let targets: ReadonlyArray<Target>

  beforeAll(async () => {
    adapter = await Effect.runPromise(makeDockerAdapter({ hosts: hosts() as never, dockerConfig: false }))
    await createFleet()
  }, 180_000)

  afterAll(async () => {
    await removeSuiteContainers(SUITE)
    await Promise.all([removeNetwork(NET_A), removeNetwork(NET_B)])
  }, 120_000)

  it("discovers the 10 containers as targets of two host groups, with each host's topology labels", async () => {
    targets = await Effect.runPromise(adapter.discover({ labels: { "io.sluice.test.suite": SUITE } }))
    expect(targets.map((t) => t.id).sort()).toEqual(
      names.map((n) => `${n.group === "a" ? "host-a" : "host-b"}/${n.name}`).sort()
    )
    for (const t of targets) {
      const site = t.id.startsWith("host-a/") ? "a" : "b"
      expect(t.labels).toMatchObject({
        site,
        rack: site === "a" ? "r1" : "r2",
        "sluice.io/host": `host-${site}`,
        app: "agent"
      })
    }
    // Selection by name pattern and by host labels narrows it.
    const onlyB = await Effect.runPromise(adapter.discover({ names: ["rl-agent-*"], hostLabels: { site: "b" } }))
    expect(onlyB.map((t) => t.name).sort()).toEqual(names.filter((n) => n.group === "b").map((n) => n.name))
  })

  it("rejects a selector without names or labels, saying what is missing", async () => {
    const exit = await Effect.runPromiseExit(adapter.discover({ hosts: ["host-a"] }))
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" ? exit.cause : "")).toMatch(/needs `names` or `labels`/)
  })

  it("rolls v1 → v2 in two waves (one per host group): all healthy, every container's configuration preserved field by field", async () => {
    const before = await snapshot()
    const v1 = await imageInspect("sluice-test/agent:v1")
    const v2 = await imageInspect("sluice-test/agent:v2")
    const waves = ["a", "b"].map((site) => targets.filter((t) => t.labels.site === site))
    const run = await rollWaves(adapter, waves, artifactOf("sluice-test/agent:v2"), "rollout-v2")
    expect(run.reason).toBeUndefined()
    expect(run.completed).toBe(true)
    const after = await snapshot()
    for (const n of names) {
      const b = before.get(n.name)
      const a = after.get(n.name)
      expect(a.Image, n.name).toBe(v2.Id)
      expect(a.Id, n.name).not.toBe(b.Id)
      expect(a.State.Running, n.name).toBe(true)
      expect(a.State.Health?.Status, n.name).toBe("healthy")
      const cmp = compareRecreated(b, v1, a, v2)
      expect(cmp.unexpected, `${n.name}: fields that changed`).toEqual([])
      expect(cmp.ownEnv.after, `${n.name}: its own env`).toEqual(cmp.ownEnv.before)
      expect(cmp.ownLabels.after, `${n.name}: its own labels`).toEqual(cmp.ownLabels.before)
      expect(cmp.missingImageEnv, `${n.name}: v2's env applies`).toEqual([])
      expect(a.Config.Env).toContain("AGENT_VERSION=v2")
      expect(a.Config.Labels["org.opencontainers.image.version"]).toBe("v2")
    }
    // Completion removed the old containers (keepOld 0): one container per name, nothing parked.
    expect(await containerNames("rl-agent-")).toEqual(names.map((n) => n.name).sort())
  }, 300_000)

  it("a target already at the desired image is a no-op: same container, never restarted", async () => {
    const before = await snapshot()
    for (const t of targets) {
      const rev = await Effect.runPromise(
        adapter.apply(t, artifactOf("sluice-test/agent:v2"), { rolloutId: "noop", wave: 0, mode: "replace" })
      )
      expect((rev.data as { containerId: string }).containerId).toBe(before.get(t.name).Id)
    }
    const after = await snapshot()
    for (const n of names) {
      expect(after.get(n.name).Id).toBe(before.get(n.name).Id)
      expect(after.get(n.name).State.StartedAt).toBe(before.get(n.name).State.StartedAt)
    }
    expect(await containerNames("rl-agent-")).toEqual(names.map((n) => n.name).sort())
  }, 120_000)

  it("v3 fails health in the second wave: every touched container is rolled back to v1 under its own name and configuration; the untouched wave is never restarted", async () => {
    await createFleet()
    targets = await Effect.runPromise(adapter.discover({ labels: { "io.sluice.test.suite": SUITE } }))
    expect(targets).toHaveLength(10)
    const before = await snapshot()
    const site = (s: string) => targets.filter((t) => t.labels.site === s).sort((x, y) => x.id.localeCompare(y.id))
    const waves = [site("a"), site("b").slice(0, 2), site("b").slice(2)]
    const run = await rollWaves(adapter, waves, artifactOf("sluice-test/agent:v3"), "rollout-v3", {
      healthTimeoutMs: 30_000
    })
    expect(run.completed).toBe(false)
    expect(run.failedWave).toBe(1)
    expect(run.reason).toMatch(/HEALTHCHECK failing/)
    const after = await snapshot()
    const v1 = await imageInspect("sluice-test/agent:v1")
    for (const n of names) {
      const b = before.get(n.name)
      const a = after.get(n.name)
      // The very same container is back under its name, running v1, with nothing changed.
      expect(a.Image, n.name).toBe(v1.Id)
      expect(compareRestored(b, a), `${n.name}: differences after rollback`).toEqual([])
      expect(a.State.Running, n.name).toBe(true)
    }
    // The third wave was never touched: not stopped, not restarted.
    for (const t of waves[2] as Array<Target>) {
      expect(after.get(t.name).State.StartedAt, t.name).toBe(before.get(t.name).State.StartedAt)
      expect(after.get(t.name).RestartCount, t.name).toBe(before.get(t.name).RestartCount)
    }
    // No v3 container or parked container is left behind.
    expect(await containerNames("rl-agent-")).toEqual(names.map((n) => n.name).sort())
  }, 300_000)
})
