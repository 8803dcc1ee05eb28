/**
 * End to end through the `sluice` CLI (examples/cli, built) with the Docker adapter, the built-in
 * policy bundle and the file store, on the real engine: a policy block, an automatic rollback, and
 * a kill -9 of the CLI mid-wave followed by `sluice resume`.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  containerNames,
  docker,
  engineReady,
  ensureNetwork,
  imageInspect,
  inspect,
  type Json,
  registryPassword,
  removeNetwork,
  removeSuiteContainers,
  repoRoot,
  socketPath,
  tlsDir,
  tlsEndpoint
} from "../support/engine.js"
import { createAgent, tempDir } from "../support/fleet.js"

const SUITE = "cli"
const NET = "sluice-test-cli"
const REG = "localhost:5000/sluice/agent"
const NAMES = ["cl-a0", "cl-a1", "cl-a2", "cl-b0", "cl-b1", "cl-b2"]
const cli = path.join(repoRoot, "examples/cli/dist/main.js")
const ready = engineReady && registryPassword !== undefined
if (engineReady && !ready) {
  const msg = "the CLI suite needs the local registry: bash scripts/docker/registry.sh"
  if (process.env.CI === "true") throw new Error(`${msg} (CI=true: failing instead of skipping)`)
  console.warn(`\n!!! SKIPPING the Docker CLI suite: ${msg}\n`)
}

const adapterConfig = () => ({
  hosts: [
    {
      name: "host-a",
      endpoint: `unix://${socketPath}`,
      labels: { site: "a" },
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
          labels: { site: "b" },
          containerLabels: { "io.sluice.test.group": "b" }
        }
      : {
          name: "host-b",
          endpoint: `unix://${socketPath}`,
          labels: { site: "b" },
          containerLabels: { "io.sluice.test.group": "b" }
        }
  ],
  registries: { "localhost:5000": { username: "sluice", password: registryPassword } },
  dockerConfig: false
})

const spec = (image: string, strategy: Json) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "docker-agents" },
  spec: {
    target: { adapter: "docker", selector: { labels: { "io.sluice.test.suite": SUITE } } },
    artifact: { image },
    strategy,
    health: { progressDeadline: "60s" },
    gates: { policy: { enabled: true }, scan: { enabled: false } }
  }
})

const snapshot = async () => {
  const out = new Map<string, Json>()
  for (const n of NAMES) out.set(n, await inspect(n))
  return out
}

describe.skipIf(!ready)("the sluice CLI with the Docker adapter, on a real Docker engine", () => {
  let dir: string
  let store: string
  const files = { adapter: "", spec: "" }
  const writeSpec = (name: string, image: string, strategy: Json) => {
    const f = path.join(dir, `${name}.json`)
    fs.writeFileSync(f, JSON.stringify(spec(image, strategy)))
    return f
  }
  const sluice = (args: ReadonlyArray<string>) => {
    const r = spawnSync(process.execPath, [cli, ...args, "--store", store, "--adapter-config", files.adapter], {
      cwd: dir,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, NO_COLOR: "1" }
    })
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` }
  }

  beforeAll(async () => {
    execFileSync(path.join(repoRoot, "node_modules/.bin/tsc"), ["-b", "examples/cli"], {
      cwd: repoRoot,
      stdio: "inherit"
    })
    dir = tempDir("sluice-cli-docker-")
    store = path.join(dir, "store")
    files.adapter = path.join(dir, "adapter.json")
    fs.writeFileSync(files.adapter, JSON.stringify(adapterConfig()), { mode: 0o600 })
    await removeSuiteContainers(SUITE)
    await ensureNetwork(NET)
    for (const n of NAMES) {
      const group = n.slice(3, 4)
      await createAgent({
        suite: SUITE,
        name: n,
        group,
        image: `${REG}:v1`,
        networks: [NET],
        env: group === "a" ? ["AGENT_ENDPOINT=https://collector.internal"] : []
      })
    }
  }, 300_000)
  afterAll(async () => {
    await removeSuiteContainers(SUITE)
    await removeNetwork(NET)
    await docker.getImage("sluice-test/agent:v4").tag({ repo: REG, tag: "v4" })
  }, 60_000)

  it("v4 runs as root: the policy gate blocks it before anything is pulled or stopped (exit 2)", async () => {
    try {
      await docker.getImage(`${REG}:v4`).remove({ noprune: true })
    } catch {
      // not tagged locally
    }
    const before = await snapshot()
    const r = sluice(["apply", "-f", writeSpec("v4", `${REG}:v4`, { rolling: { batchSize: 2 } }), "--plain"])
    expect(r.status, r.out).toBe(2)
    for (const n of NAMES) expect(r.out).toMatch(new RegExp(`\\[non-root\\] container "${n}" runs as root`))
    expect(r.out).toMatch(/no target was touched/)
    const after = await snapshot()
    for (const n of NAMES) {
      expect(after.get(n).Id, n).toBe(before.get(n).Id)
      expect(after.get(n).State.StartedAt, n).toBe(before.get(n).State.StartedAt)
    }
    await expect(imageInspect(`${REG}:v4`)).rejects.toThrow()
    expect(r.out.includes(registryPassword as string)).toBe(false)
  }, 300_000)

  it("v3 fails health in the second wave: the CLI rolls every touched container back to v1 on its own (exit 3)", async () => {
    const before = await snapshot()
    // No topology key: waves follow target ids, so host-a's three (which have AGENT_ENDPOINT) go first.
    const r = sluice([
      "apply",
      "-f",
      writeSpec("v3", `${REG}:v3`, { rolling: { batchSize: 3, maxUnavailable: 3 } }),
      "--plain"
    ])
    expect(r.status, r.out).toBe(3)
    expect(r.out).toMatch(/wave 1 \(2\/2/)
    expect(r.out).toMatch(/rolled back/i)
    const after = await snapshot()
    for (const n of NAMES) {
      expect(after.get(n).Id, n).toBe(before.get(n).Id)
      expect(after.get(n).Config.Image, n).toBe(`${REG}:v1`)
      expect(after.get(n).State.Running, n).toBe(true)
    }
    expect((await containerNames("cl-")).sort()).toEqual([...NAMES].sort())
  }, 300_000)

  it("kill -9 of `sluice apply` in the middle of a wave, then `sluice resume`: it completes with no duplicate and no lost container", async () => {
    const specFile = writeSpec("v2", `${REG}:v2`, { rolling: { batchSize: 2, maxUnavailable: 2 } })
    const child: ChildProcess = spawn(
      process.execPath,
      [cli, "apply", "-f", specFile, "--json", "--store", store, "--adapter-config", files.adapter],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }
    )
    let rolloutId = ""
    let killedAt: Json | undefined
    await new Promise<void>((resolve, reject) => {
      let buf = ""
      child.stdout?.on("data", (d: Buffer) => {
        buf += d.toString()
        let nl = buf.indexOf("\n")
        while (nl !== -1) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          nl = buf.indexOf("\n")
          let e: Json
          try {
            e = JSON.parse(line)
          } catch {
            continue
          }
          rolloutId ||= e.rolloutId ?? ""
          // The first target of the second wave is applied: its wave-mate is still in flight.
          if (e.type === "targetApplied" && e.wave === 1 && killedAt === undefined) {
            killedAt = e
            child.kill("SIGKILL")
          }
        }
      })
      child.on("exit", (_code, signal) =>
        signal === "SIGKILL" ? resolve() : reject(new Error(`apply ended before the kill (${signal ?? _code})`))
      )
    })
    expect(rolloutId).not.toBe("")
    const atKill = new Map<string, string>()
    for (const n of NAMES) {
      const c = await inspect(n).catch(() => undefined)
      // Deployed by the digest the tag named when the rollout started.
      if (String(c?.Config.Image).startsWith(`${REG}:v2@sha256:`)) atKill.set(n, c.Id)
    }
    expect(atKill.size).toBeGreaterThanOrEqual(3)
    expect(atKill.size).toBeLessThan(NAMES.length)

    const r = sluice(["resume", rolloutId, "--plain"])
    expect(r.status, r.out).toBe(0)
    expect(r.out).toMatch(/completed/)
    // One container per name, all on v2, nothing parked or half-made left over (keepOld 0).
    expect((await containerNames("cl-")).sort()).toEqual([...NAMES].sort())
    for (const n of NAMES) {
      const c = await inspect(n)
      expect(c.Config.Image, n).toMatch(new RegExp(`^${REG}:v2@sha256:[a-f0-9]{64}$`))
      expect(c.State.Running, n).toBe(true)
      // Updated before the kill: not updated a second time by the resumed run.
      if (atKill.has(n)) expect(c.Id, n).toBe(atKill.get(n))
    }
  }, 300_000)
})
