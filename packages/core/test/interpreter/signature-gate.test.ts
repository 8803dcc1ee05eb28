/**
 * The signature gate's fail-closed paths in the core (issue 12): turned on, it denies before any
 * target is touched when no verifier is configured or the artifact's digest is unknown, naming the
 * digest (or the image) in the journaled denial and the `gateDecided` event; turned off, it is not
 * decided at all. The verification itself (real cosign signatures in a real registry) is tested in
 * packages/adapters-docker/test/suites/signature.suite.ts.
 */
import { Effect, Exit, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { type ResolvedDigest, TargetAdapter } from "../../src/adapter/TargetAdapter.js"
import { startRollout } from "../../src/interpreter/Interpreter.js"
import type { RolloutConfig } from "../../src/interpreter/RolloutConfig.js"
import { parseImageRef } from "../../src/spec/ImageRef.js"
import { RolloutStore } from "../../src/store/RolloutStore.js"
import { chunkPlan, configFor, V2, world } from "../support/harness.js"

const D1 = `sha256:${"a".repeat(64)}`
const KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
const imageOf = (raw: string) => {
  const r = parseImageRef(raw)
  if (r._tag === "Failure") throw new Error(String(r.failure))
  return r.success
}

const run = async (options: { readonly signature: boolean; readonly resolve?: ResolvedDigest }) => {
  const w = world({ size: 3, namePrefix: "n" })
  const targets = [...w.fleet.targets.values()].map((t) => t.target)
  const adapter = Layer.succeed(TargetAdapter, {
    ...w.fleet.adapter,
    ...(options.resolve === undefined ? {} : { resolveDigest: () => Effect.succeed(options.resolve) })
  })
  const config: RolloutConfig = configFor({
    artifact: { image: imageOf(V2) },
    gates: {
      policy: false,
      scan: false,
      analysis: [],
      ...(options.signature ? { signature: { publicKey: KEY } } : {})
    }
  })
  const exit = await Effect.runPromiseExit(
    Effect.gen(function* () {
      const result = yield* startRollout({
        config,
        spec: {},
        plan: () => ({ ...chunkPlan([...w.fleet.targets.keys()], 3), targets })
      })
      const stored = yield* (yield* RolloutStore).read("r1")
      return { result, stored }
    }).pipe(Effect.provide(Layer.mergeAll(w.layer, adapter)))
  )
  const signatureEvents = w.sink.events.flatMap((e) => (e.type === "gateDecided" && e.gate === "signature" ? [e] : []))
  return { exit, signatureEvents, fleet: w.fleet }
}

describe("the signature gate fails closed", () => {
  it("on, without a verifier: denied naming the digest, journaled, nothing touched", async () => {
    const r = await run({ signature: true, resolve: { digest: D1 } })
    if (!Exit.isSuccess(r.exit)) throw new Error(String(r.exit.cause))
    const { result, stored } = r.exit.value
    expect(result.outcome).toBe("blocked")
    expect(result.violations).toEqual([
      expect.objectContaining({ targetId: "*", rule: "signature/no-verifier", message: expect.stringContaining(D1) })
    ])
    expect(r.signatureEvents).toHaveLength(1)
    expect(r.signatureEvents[0]).toMatchObject({ allow: false, violations: [{ rule: "signature/no-verifier" }] })
    const denied = stored.entries.find((e) => e.kind === "event" && e.event.type === "GATES_DENIED")
    expect(denied).toMatchObject({ event: { violations: [{ rule: "signature/no-verifier" }] } })
    for (const t of r.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })

  it("on, with no digest known (none pinned, none resolved): denied naming the image, nothing touched", async () => {
    const r = await run({ signature: true })
    if (!Exit.isSuccess(r.exit)) throw new Error(String(r.exit.cause))
    expect(r.exit.value.result.outcome).toBe("blocked")
    expect(r.exit.value.result.violations[0]).toMatchObject({
      rule: "signature/digest-unknown",
      message: expect.stringContaining(V2)
    })
    for (const t of r.fleet.targets.values()) expect(t.history).toHaveLength(0)
  })

  it("off: not decided, the rollout runs", async () => {
    const r = await run({ signature: false, resolve: { digest: D1 } })
    if (!Exit.isSuccess(r.exit)) throw new Error(String(r.exit.cause))
    expect(r.exit.value.result.outcome).toBe("completed")
    expect(r.signatureEvents).toHaveLength(0)
    const passed = r.exit.value.stored.entries.find((e) => e.kind === "event" && e.event.type === "GATES_PASSED")
    expect(passed).toMatchObject({ event: { type: "GATES_PASSED" } })
    expect(passed?.kind === "event" && "signature" in passed.event).toBe(false)
  })
})
