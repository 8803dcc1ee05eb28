import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseRolloutSpec } from "@sluice/core"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { countType, events, FAST, fleet, imageOf, type Running, sluice, start, tmpStore, V1, V2 } from "./helpers.js"

/**
 * Every spec the README shows and every spec under examples/ runs as written: the README's blocks
 * are read from README.md here (so they cannot drift from what is tested), and each example is
 * applied with the CLI to a simulated fleet, to its outcome.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const SPECS = path.join(ROOT, "examples", "specs")
const README = fs.readFileSync(path.join(ROOT, "README.md"), "utf8")

/** The README's fenced YAML blocks, in order. */
const yamlBlocks = (markdown: string): ReadonlyArray<string> =>
  [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]!)

const isRollout = (text: string) => /^kind: Rollout$/m.test(text)
const exampleFiles = fs
  .readdirSync(SPECS)
  .filter((f) => f.endsWith(".yaml"))
  .sort()
const exampleText = (file: string) => fs.readFileSync(path.join(SPECS, file), "utf8")

const SIZE = 30
const run = (store: string) => ["--store", store, "--fleet-size", String(SIZE), ...FAST]
const ids = Array.from({ length: SIZE }, (_, i) => `node-${String(i).padStart(2, "0")}`)
const imagesOf = (store: string) => ids.map((id) => imageOf(fleet(store), id))

const finished = async (running: Running) => {
  const done = await running.done
  return { ...done, result: events(done.stdout).at(-1) }
}

describe("the README's specs", () => {
  const blocks = yamlBlocks(README)
  const rollouts = blocks.filter(isRollout)

  it("are found in README.md", () => {
    expect(rollouts.length).toBeGreaterThanOrEqual(2)
  })

  it("each full Rollout the README shows is an example under examples/ (applied below) or the Kubernetes one", () => {
    for (const block of rollouts) {
      const same = exampleFiles.filter((f) => exampleText(f) === block)
      if (/adapter: kubernetes/.test(block)) {
        // Applied on the test control plane by packages/adapters-k8s/test/adapter/readme.test.ts;
        // here: it decodes as written.
        expect(Result.isSuccess(parseRolloutSpec(block)), block).toBe(true)
      } else {
        expect(same, `README block not in examples/specs/ byte for byte:\n${block}`).toHaveLength(1)
      }
    }
  })

  it("the topology fragment is valid as written, inside the sample spec (plan, exit 0)", async () => {
    const fragments = blocks.filter((b) => !isRollout(b) && /^topology:/m.test(b))
    expect(fragments).toHaveLength(1)
    const dir = tmpStore()
    const values = path.join(dir, "topology.yaml")
    fs.writeFileSync(values, `spec:\n${fragments[0]!.replace(/^/gm, "  ")}`)
    const r = await sluice(["plan", "-f", path.join(SPECS, "canary.yaml"), "--values", values, "--store", dir])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("topology.kubernetes.io/zone")
  })
})

describe("the README's policy data", () => {
  it("lets an image from docker.io through the policy gate as shown (--policy-data)", async () => {
    const blocks = yamlBlocks(README).filter((b) => b.startsWith("sluice:\n"))
    expect(blocks).toHaveLength(1)
    const store = tmpStore()
    const data = path.join(store, "data.yaml")
    fs.writeFileSync(data, blocks[0]!)
    const args = ["apply", "-f", path.join(SPECS, "recreate.yaml"), "--json", ...run(store)]
    const image = [
      "--set",
      "spec.artifact.image=docker.io/library/nginx:1.27",
      "--set",
      "spec.gates.scan.enabled=false"
    ]
    const without = await sluice([...args, ...image])
    expect(without.code).toBe(2)
    const r = await sluice([...args, ...image, "--policy-data", data])
    expect(r.code, r.stderr).toBe(0)
    expect(new Set(imagesOf(store))).toEqual(new Set(["docker.io/library/nginx:1.27"]))
  })
})

describe("examples/specs: one working example per strategy, manual approval, probes and analysis", () => {
  it("has one for each strategy and feature", () => {
    expect(exampleFiles).toEqual([
      "analysis.yaml",
      "blue-green.yaml",
      "canary.yaml",
      "manual-approval.yaml",
      "partition.yaml",
      "probes.yaml",
      "recreate.yaml",
      "rolling.yaml"
    ])
    const strategies = exampleFiles.map((f) => {
      const parsed = parseRolloutSpec(exampleText(f), { source: f })
      if (Result.isFailure(parsed)) throw new Error(parsed.failure.problems.map((p) => p.message).join("\n"))
      return Object.keys(parsed.success.spec.strategy)[0]
    })
    expect(new Set(strategies)).toEqual(new Set(["rolling", "canary", "blueGreen", "recreate", "partition"]))
  })

  for (const file of [
    "canary.yaml",
    "rolling.yaml",
    "recreate.yaml",
    "partition.yaml",
    "probes.yaml",
    "analysis.yaml"
  ]) {
    it(`${file}: sluice apply completes through the policy and scan gates, every target on 2.0.0`, async () => {
      const store = tmpStore()
      const r = await sluice(["apply", "-f", path.join(SPECS, file), "--json", ...run(store)])
      expect(r.code, r.stderr).toBe(0)
      const evs = events(r.stdout)
      const gates = evs.filter((e) => e.type === "gateDecided")
      expect(gates.map((g) => [g.gate, g.allow])).toEqual(
        expect.arrayContaining([
          ["policy", true],
          ["scan", true]
        ])
      )
      expect(evs.at(-1)).toMatchObject({ type: "result", outcome: "completed" })
      expect(new Set(imagesOf(store))).toEqual(new Set([V2]))
    })
  }

  it("partition.yaml: the highest ordinals go first", async () => {
    const store = tmpStore()
    const r = await sluice(["apply", "-f", path.join(SPECS, "partition.yaml"), "--json", ...run(store)])
    expect(r.code, r.stderr).toBe(0)
    const firstWave = events(r.stdout)
      .filter((e) => e.type === "targetUpdating" && e.wave === 0)
      .map((e) => e.targetId)
      .sort()
    expect(firstWave).toEqual(["node-27", "node-28", "node-29"])
  })

  it("analysis.yaml: a version whose error rate fails the condition is rolled back after the canary", async () => {
    const store = tmpStore()
    const file = path.join(SPECS, "analysis.yaml")
    const r = await sluice(["apply", "-f", file, "--json", "--faults", "error-rate=:2.0.0@0.2", ...run(store)])
    expect(r.code, r.stderr).toBe(3)
    expect(events(r.stdout).at(-1)).toMatchObject({ type: "result", outcome: "rolledBack" })
    expect(new Set(imagesOf(store))).toEqual(new Set([V1]))
  })

  it("blue-green.yaml: the preview waits for `sluice promote`, then the rest follows", async () => {
    const store = tmpStore()
    const running = start(["apply", "-f", path.join(SPECS, "blue-green.yaml"), "--id", "bg", "--json", ...run(store)])
    await running.waitFor((lines) => countType(lines, "paused") === 1)
    const preview = imagesOf(store).filter((i) => i === V2).length
    expect(preview).toBe(3) // 10% of 30
    const promoted = await sluice(["promote", "bg", "--store", store])
    expect(promoted.code, promoted.stderr).toBe(0)
    const done = await finished(running)
    expect(done.code, done.stderr).toBe(0)
    expect(done.result).toMatchObject({ outcome: "completed" })
    expect(new Set(imagesOf(store))).toEqual(new Set([V2]))
  })

  it("manual-approval.yaml: wave 0 runs, wave 1 waits for `sluice approve`", async () => {
    const store = tmpStore()
    const file = path.join(SPECS, "manual-approval.yaml")
    const running = start(["apply", "-f", file, "--id", "ok", "--json", ...run(store)])
    await running.waitFor((lines) => countType(lines, "awaitingApproval") === 1)
    const waiting = events(running.lines.join("\n")).find((e) => e.type === "awaitingApproval")
    expect(waiting).toMatchObject({ wave: 1 })
    expect(imagesOf(store).filter((i) => i === V2)).toHaveLength(15)
    const approved = await sluice(["approve", "ok", "--store", store])
    expect(approved.code, approved.stderr).toBe(0)
    const done = await finished(running)
    expect(done.code, done.stderr).toBe(0)
    expect(new Set(imagesOf(store))).toEqual(new Set([V2]))
  })
})

describe("every Rollout under examples/", () => {
  const walk = (dir: string): Array<string> =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
      const p = path.join(dir, d.name)
      if (d.isDirectory()) return ["node_modules", "dist", "test"].includes(d.name) ? [] : walk(p)
      return /\.ya?ml$/.test(d.name) && isRollout(fs.readFileSync(p, "utf8")) ? [path.relative(ROOT, p)] : []
    })
  const all = walk(path.join(ROOT, "examples")).sort()

  // examples/specs are applied above, examples/cli/demo by demo.test.ts (npm run demo); the
  // Kubernetes demo's by `npm run demo:k8s` only, which no test runs.
  it("decodes as written, and lives where a test or a demo applies it", () => {
    expect(all.length).toBeGreaterThan(exampleFiles.length)
    for (const file of all) {
      const parsed = parseRolloutSpec(fs.readFileSync(path.join(ROOT, file), "utf8"), { source: file })
      expect(Result.isSuccess(parsed), file).toBe(true)
      expect(
        file.startsWith("examples/specs/") ||
          file.startsWith("examples/cli/demo/") ||
          file.startsWith("examples/k8s/demo/"),
        `${file}: an example no test applies`
      ).toBe(true)
    }
  })
})
