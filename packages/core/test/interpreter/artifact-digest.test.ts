/**
 * The artifact's digest is resolved before the gates (issue 12): pinned in the spec, or the
 * registry's through the adapter; the rollout deploys by it, the header records it, and the scan
 * gate accepts only a report that names it.
 */
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { AdapterError, type ResolvedDigest, TargetAdapter } from "../../src/adapter/TargetAdapter.js"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { RolloutConfig } from "../../src/interpreter/RolloutConfig.js"
import { PolicyEngine, type ScanReport, ScanReportSource } from "../../src/policy/PolicyEngine.js"
import { parseImageRef } from "../../src/spec/ImageRef.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"

const D1 = `sha256:${"a".repeat(64)}`
const D2 = `sha256:${"b".repeat(64)}`
const imageOf = (raw: string) => {
  const r = parseImageRef(raw)
  if (r._tag === "Failure") throw new Error(String(r.failure))
  return r.success
}

const allowAll = Layer.succeed(PolicyEngine, { evaluate: () => Effect.succeed({ allow: true, deny: [], warn: [] }) })
const reports = (report: ScanReport | undefined, asked: Array<[string, string | undefined]>) =>
  Layer.succeed(ScanReportSource, {
    reportFor: (image, digest) =>
      Effect.sync(() => {
        asked.push([image, digest])
        return report
      })
  })

const run = async (options: {
  readonly image?: string
  readonly resolve?: Effect.Effect<ResolvedDigest | undefined, AdapterError>
  readonly report?: ScanReport
}) => {
  const w = world({ size: 3, namePrefix: "n" })
  const targets = [...w.fleet.targets.values()].map((t) => t.target)
  const adapter = Layer.succeed(TargetAdapter, {
    ...w.fleet.adapter,
    ...(options.resolve === undefined ? {} : { resolveDigest: () => options.resolve as never })
  })
  const asked: Array<[string, string | undefined]> = []
  const config: RolloutConfig = configFor({
    artifact: { image: imageOf(options.image ?? V2) },
    gates: { policy: false, scan: true, analysis: [] }
  })
  const exit = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const result = yield* startRollout({
        config,
        spec: {},
        plan: () => ({ ...chunkPlan([...w.fleet.targets.keys()], 3), targets })
      })
      const { header } = yield* (yield* RolloutStore).read("r1")
      return { result, header }
    }).pipe(Effect.provide(Layer.mergeAll(w.layer, adapter, allowAll, reports(options.report, asked))))
  )
  const scanEvents = w.sink.events.flatMap((e) => (e.type === "gateDecided" && e.gate === "scan" ? [e] : []))
  return { exit, asked, scanEvents, fleet: w.fleet }
}

const report = (digests: ReadonlyArray<string>): ScanReport => ({
  image: V2,
  digests,
  source: "scans/v2.json",
  findings: []
})

describe("the artifact's digest", () => {
  it("resolved through the adapter: deployed by it, recorded in the header, the report found and bound by it", async () => {
    const r = await run({ resolve: Effect.succeed({ digest: D1, configDigest: D2 }), report: report([D1]) })
    expect(Exit.isSuccess(r.exit)).toBe(true)
    if (!Exit.isSuccess(r.exit)) return
    const { result, header } = r.exit.value
    expect(result.outcome).toBe("completed")
    expect(header.config.artifactDigest).toEqual({ digest: D1, configDigest: D2, source: "registry", reference: V2 })
    expect(header.image).toBe(`${V2}@${D1}`)
    expect(r.asked).toContainEqual([V2, D1])
    for (const t of r.fleet.targets.values()) expect(t.image).toBe(`${V2}@${D1}`)
  })

  it("a report naming the image's config digest (Trivy's ImageID) is bound too", async () => {
    const r = await run({ resolve: Effect.succeed({ digest: D1, configDigest: D2 }), report: report([D2]) })
    expect(Exit.isSuccess(r.exit) && r.exit.value.result.outcome).toBe("completed")
  })

  it("a report for another digest denies the scan gate, naming both; nothing is touched", async () => {
    const r = await run({ resolve: Effect.succeed({ digest: D1 }), report: report([D2]) })
    expect(Exit.isSuccess(r.exit)).toBe(true)
    if (!Exit.isSuccess(r.exit)) return
    expect(r.exit.value.result.outcome).toBe("blocked")
    const v = r.scanEvents[0]?.violations.find((x) => x.rule === "scan/digest-mismatch")
    expect(v?.message).toContain(D1)
    expect(v?.message).toContain(D2)
    expect(v?.message).toContain("scans/v2.json")
    for (const t of r.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })

  it("a report that names no digest at all denies too", async () => {
    const r = await run({ resolve: Effect.succeed({ digest: D1 }), report: report([]) })
    expect(Exit.isSuccess(r.exit) && r.exit.value.result.outcome).toBe("blocked")
  })

  it("pinned in the spec: the adapter is not asked, the report must name the pinned digest", async () => {
    let asked = 0
    const resolve = Effect.sync(() => {
      asked++
      return { digest: D2 }
    })
    const pinned = await run({ image: `${V2}@${D1}`, resolve, report: report([D1]) })
    expect(asked).toBe(0)
    expect(Exit.isSuccess(pinned.exit) && pinned.exit.value.header.config.artifactDigest).toEqual({
      digest: D1,
      source: "spec",
      reference: `${V2}@${D1}`
    })
    expect(Exit.isSuccess(pinned.exit) && pinned.exit.value.result.outcome).toBe("completed")
    const other = await run({ image: `${V2}@${D1}`, report: report([D2]) })
    expect(Exit.isSuccess(other.exit) && other.exit.value.result.outcome).toBe("blocked")
  })

  it("a registry that cannot be asked stops the rollout before anything is stored or touched", async () => {
    const r = await run({
      resolve: Effect.fail(
        new AdapterError({ operation: "inspect", message: "registry refused: 401", transient: false })
      ),
      report: report([D1])
    })
    expect(Exit.isFailure(r.exit)).toBe(true)
    expect(String(Exit.isFailure(r.exit) ? r.exit.cause : "")).toMatch(
      /cannot resolve the digest of .*registry refused: 401/
    )
    for (const t of r.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })

  it("an adapter answer that is not a sha256 digest stops the rollout", async () => {
    const r = await run({ resolve: Effect.succeed({ digest: "sha256:nothex" }), report: report([D1]) })
    expect(Exit.isFailure(r.exit)).toBe(true)
  })

  it("no digest known (no resolver, none pinned): the report is matched by name and the scan gate warns", async () => {
    const r = await run({ report: report([]) })
    expect(Exit.isSuccess(r.exit) && r.exit.value.result.outcome).toBe("completed")
    expect(r.scanEvents[0]?.warnings.map((w) => w.rule)).toContain("scan/digest-unknown")
    expect(r.asked).toContainEqual([V2, undefined])
  })
})
