/**
 * Each gate on its own switch, through the real built-in bundle (issue 12): the engine tags every
 * violation with its gate, and a rollout of a root-running version is blocked by the non-root rule
 * only when the policy gate is on, by a scan finding only when the scan gate is on.
 */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import {
  configFromSpec,
  EventSink,
  MemoryStoreLayer,
  PolicyEngine,
  parseRolloutSpec,
  planWaves,
  type RolloutEvent,
  startRollout
} from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { Effect, Layer, Result } from "effect"
import { PolicyEngineLive, TrivyReportDirectory, trivyReportFileName } from "../../src/index.js"
import { request, workload } from "./requests.js"

const V1 =
  "registry.sluice.dev/agents/node-agent:1.0.0@sha256:1111111111111111111111111111111111111111111111111111111111111111"
const V2 =
  "registry.sluice.dev/agents/node-agent:2.0.0@sha256:2222222222222222222222222222222222222222222222222222222222222222"

const V2_DIGEST = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
const OTHER_DIGEST = "sha256:3333333333333333333333333333333333333333333333333333333333333333"

const report = (image: string, critical: boolean, digest = V2_DIGEST) => ({
  SchemaVersion: 2,
  ArtifactName: image,
  ArtifactType: "container_image",
  Metadata: { RepoDigests: [`registry.sluice.dev/agents/node-agent@${digest}`] },
  Results: [
    {
      Target: `${image} (debian 12.8)`,
      Class: "os-pkgs",
      Type: "debian",
      Vulnerabilities: critical
        ? [{ VulnerabilityID: "CVE-2026-0001", PkgName: "openssl", InstalledVersion: "3.0.0", Severity: "CRITICAL" }]
        : []
    }
  ]
})

const rollout = async (
  gates: { policy: boolean; scan: boolean },
  options: { critical: boolean; reportDigest?: string; image?: string }
) => {
  const image = options.image ?? V2
  const text = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: node-agent }
spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: "${image}" }
  strategy: { rolling: { batchSize: 2 } }
  gates: { policy: { enabled: ${gates.policy} }, scan: { enabled: ${gates.scan} } }
`
  const parsed = parseRolloutSpec(text)
  if (Result.isFailure(parsed)) throw new Error(parsed.failure.message)
  const spec = parsed.success
  const dir = mkdtempSync(join(tmpdir(), "sluice-gate-switches-"))
  writeFileSync(
    join(dir, trivyReportFileName(image)),
    JSON.stringify(report(image, options.critical, options.reportDigest))
  )
  // v2 runs as root: the built-in non-root policy denies it.
  const fleet = makeSimulatedFleet({ size: 4, image: V1, seed: 3, versions: { [image]: { runsAsRoot: true } } })
  const events: RolloutEvent[] = []
  const result = await Effect.runPromise(
    startRollout({
      config: configFromSpec(spec, "gates"),
      spec: text,
      plan: (inventory) => planWaves(spec, inventory)
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          fleet.layer,
          PolicyEngineLive.layer,
          TrivyReportDirectory.layer(dir),
          MemoryStoreLayer(),
          EventSink.fromCallback((e) => void events.push(e))
        )
      )
    )
  )
  const gateEvents = events.flatMap((e) => (e.type === "gateDecided" ? [e] : []))
  const touched = [...fleet.targets.values()].filter((t) => t.history.length > 0).length
  return { result, gateEvents, touched }
}

describe("the scan report is bound to the artifact's digest", () => {
  it("a report for other bytes under the same name denies, naming both digests; nothing is touched", async () => {
    const r = await rollout({ policy: false, scan: true }, { critical: false, reportDigest: OTHER_DIGEST })
    expect(r.result.outcome).toBe("blocked")
    expect(r.touched).toBe(0)
    const scan = r.gateEvents.find((e) => e.gate === "scan")
    expect(scan?.allow).toBe(false)
    const v = scan?.violations.find((x) => x.rule === "scan/digest-mismatch")
    expect(v?.message).toContain(OTHER_DIGEST)
    expect(v?.message).toContain(V2_DIGEST)
  })

  it("an image whose digest nobody knows is matched by name, and the scan gate warns that it is not bound", async () => {
    const unpinned = "registry.sluice.dev/agents/node-agent:2.0.0"
    const r = await rollout({ policy: false, scan: true }, { critical: false, image: unpinned })
    expect(r.result.outcome).toBe("completed")
    const scan = r.gateEvents.find((e) => e.gate === "scan")
    expect(scan?.warnings.map((w) => w.rule)).toContain("scan/digest-unknown")
  })
})

describe("gate switches with the built-in bundle", () => {
  it.effect("every violation of the built-in bundle names its gate; the engine decides only the gates asked", () =>
    Effect.gen(function* () {
      const engine = yield* PolicyEngine
      const root = request(workload({ securityContext: { runAsUser: 0 } }))
      const all = yield* engine.evaluate(root)
      expect(all.deny.map((v) => [v.rule, v.gate])).toEqual([
        ["non-root", "policy"],
        ["scan-gate/missing-report", "scan"]
      ])
      for (const v of [...all.deny, ...all.warn]) expect(["policy", "scan", "signature"]).toContain(v.gate)
    }).pipe(Effect.provide(PolicyEngineLive.layer))
  )

  it.effect("a package's gate tags its entries; a gate that is not a gate's name denies every gate asked", () =>
    Effect.gen(function* () {
      const withData = (data: unknown) => PolicyEngineLive.layerBuiltin({ data })
      const signed = yield* PolicyEngine.use((e) => e.evaluate(request(workload(), "t", ["signature"]))).pipe(
        Effect.provide(withData({ sluice: { policies: { custom: { gate: "signature", deny: ["unsigned"] } } } }))
      )
      expect(signed.deny.filter((v) => v.rule === "custom")).toEqual([
        { rule: "custom", message: "unsigned", gate: "signature", bundle: "sluice" }
      ])
      for (const gate of ["scna", 7, null]) {
        const d = yield* PolicyEngine.use((e) => e.evaluate(request(workload(), "t", ["policy", "scan"]))).pipe(
          Effect.provide(withData({ sluice: { policies: { custom: { deny: [{ rule: "c", message: "m", gate }] } } } }))
        )
        expect(d.allow).toBe(false)
        expect(d.deny.map((v) => [v.rule, v.gate])).toEqual([
          ["engine/malformed-decision", "policy"],
          ["engine/malformed-decision", "scan"]
        ])
        expect(d.deny[0]?.message).toMatch(/gate/)
      }
    })
  )

  const cases = [
    { policy: false, scan: false, critical: true, outcome: "completed", rules: [] },
    { policy: true, scan: false, critical: true, outcome: "blocked", rules: ["non-root"] },
    // The report: the policy gate off and the scan gate on must not block on non-root.
    { policy: false, scan: true, critical: false, outcome: "completed", rules: [] },
    { policy: false, scan: true, critical: true, outcome: "blocked", rules: ["scan-gate/vulnerability"] },
    { policy: true, scan: true, critical: false, outcome: "blocked", rules: ["non-root"] },
    { policy: true, scan: true, critical: true, outcome: "blocked", rules: ["non-root", "scan-gate/vulnerability"] }
  ] as const
  for (const c of cases) {
    it(`policy ${c.policy ? "on" : "off"}, scan ${c.scan ? "on" : "off"}, ${c.critical ? "a CRITICAL finding" : "a clean report"}: ${c.outcome}`, async () => {
      const r = await rollout(c, c)
      expect(r.result.outcome).toBe(c.outcome)
      expect([...new Set(r.result.violations.map((v) => v.rule))].sort()).toEqual([...c.rules])
      const on = [...(c.policy ? ["policy"] : []), ...(c.scan ? ["scan"] : [])]
      expect([...new Set(r.gateEvents.map((e) => e.gate))].sort()).toEqual(on)
      if (c.outcome === "blocked") expect(r.touched).toBe(0)
      else expect(r.touched).toBe(4)
    })
  }
})
