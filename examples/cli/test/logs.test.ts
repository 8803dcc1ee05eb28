import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { FAST, fixture, sluice, tmpStore } from "./helpers.js"

const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { message: string; level: string; annotations: Record<string, unknown> })

describe("structured logs (--log-format json, --log-level)", () => {
  it("one JSON object per line, each with the rollout id, wave boundaries with the wave", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--id",
      "logs-1",
      "--plain",
      "--store",
      store,
      "--fleet-size",
      "12",
      ...FAST,
      "--log-format",
      "json",
      "--log-level",
      "debug"
    ])
    expect(r.code, r.stderr).toBe(0)
    const lines = jsonLines(r.stderr)
    expect(lines.length).toBeGreaterThan(2)
    for (const line of lines) {
      expect(line.annotations.rolloutId).toBe("logs-1")
      expect(["DEBUG", "INFO", "WARN", "ERROR"]).toContain(line.level)
    }
    const waves = lines.filter((l) => /^wave \d+ \(\d+\/\d+\) (started|healthy)/.test(l.message))
    expect(waves.length).toBeGreaterThan(0)
    for (const w of waves) expect(w.message).toContain(`wave ${String(w.annotations.wave)} (`)
    expect(lines.some((l) => l.message.startsWith("finished: completed"))).toBe(true)
  })

  it("without --log-*, the rollout's own lines stay out of stderr (the progress view shows them)", async () => {
    const store = tmpStore()
    const r = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--plain",
      "--store",
      store,
      "--fleet-size",
      "12",
      ...FAST,
      "--faults",
      "never-healthy=:2.0.0"
    ])
    expect(r.code).toBe(3)
    expect(r.stderr).not.toMatch(/^warn: rolling back/m)
    const verbose = await sluice([
      "apply",
      "-f",
      fixture("rolling.yaml"),
      "--plain",
      "--store",
      tmpStore(),
      "--fleet-size",
      "12",
      ...FAST,
      "--faults",
      "never-healthy=:2.0.0",
      "--log-level",
      "warn"
    ])
    expect(verbose.code).toBe(3)
    expect(verbose.stderr).toMatch(
      /^warn: rolling back \d+ target\(s\): .* \[.+ wave \d+\]|^warn: rolling back \d+ target\(s\): .* \[.+\]/m
    )
  })

  it("refuses an unknown level or format (exit 64)", async () => {
    for (const args of [
      ["--log-level", "loud"],
      ["--log-format", "xml"]
    ]) {
      const r = await sluice(["apply", "-f", fixture("rolling.yaml"), "--store", tmpStore(), ...args])
      expect(r.code).toBe(64)
      expect(r.stderr).toMatch(/--log-(level|format) "(loud|xml)" is not/)
    }
  })

  it("never prints a registry password, even at debug level and when the configuration is wrong", async () => {
    const dir = tmpStore()
    const secret = "s3cr3t-PW-4711"
    fs.writeFileSync(
      path.join(dir, "rollout.yaml"),
      `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: docker, selector: { names: ["agent-*"] } }
  artifact: { image: localhost:5000/sluice/agent:v2 }
  strategy: { rolling: { batchSize: 1 } }
  gates: { scan: { enabled: false } }
`
    )
    const configs = [
      `registries:\n  "localhost:5000": { username: u, password: "${secret}" }\n`,
      `registries:\n  "localhost:5000": { username: u, password: "${secret}", tokn: x }\n`,
      `registries:\n  "localhost:5000": { user: u, password: "${secret}" }\n`
    ]
    for (const [i, config] of configs.entries()) {
      fs.writeFileSync(
        path.join(dir, "adapter.yaml"),
        `hosts:\n  - name: unreachable\n    endpoint: tcp://127.0.0.1:1\n${config}`
      )
      for (const format of i === 0 ? ["json", "text"] : ["json"]) {
        const r = await sluice([
          "apply",
          "-f",
          path.join(dir, "rollout.yaml"),
          "--adapter-config",
          path.join(dir, "adapter.yaml"),
          "--store",
          dir,
          "--log-format",
          format,
          "--log-level",
          "debug"
        ])
        expect(r.code).not.toBe(0)
        expect(r.stdout + r.stderr).not.toContain(secret)
      }
    }
  })
})
