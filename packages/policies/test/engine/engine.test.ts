import { createHash } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, expect, it } from "@effect/vitest"
import { PolicyEngine } from "@sluice/core"
import { Effect, Exit, Fiber, PubSub, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  buildPolicyInput,
  type DecisionLogEntry,
  loadBundle,
  makeEvaluator,
  PolicyDecisionLog,
  PolicyEngineLive
} from "../../src/index.js"
import { bundle, getOrThrow } from "../helpers.js"
import { request, workload } from "./requests.js"

const evaluateWith = (sources: Parameters<typeof PolicyEngineLive.layerFromBundles>[0], req = request()) =>
  PolicyEngine.use((engine) => engine.evaluate(req)).pipe(Effect.provide(PolicyEngineLive.layerFromBundles(sources)))

describe("PolicyEngineLive", () => {
  it.effect("allows a compliant workload and denies a privileged one (opa-built .tar.gz bundle)", () =>
    Effect.gen(function* () {
      const ok = yield* evaluateWith([bundle("basic.tar.gz")])
      assert.deepStrictEqual(ok, { allow: true, deny: [], warn: [] })
      const bad = yield* evaluateWith(
        [bundle("basic.tar.gz")],
        request(workload({ securityContext: { privileged: true }, image: "evil.example.com/x:latest" }))
      )
      expect(bad.allow).toBe(false)
      // Rego sets come out sorted (by container, then message): the registry one sorts first here.
      expect(bad.deny).toEqual([
        {
          rule: "basic/registry",
          message: "image evil.example.com/x:latest is from a blocked registry",
          container: "agent",
          bundle: "basic",
          gate: "policy"
        },
        {
          rule: "basic/privileged",
          message: "container agent is privileged",
          container: "agent",
          bundle: "basic",
          gate: "policy"
        }
      ])
      expect(bad.warn).toEqual([
        {
          rule: "basic/latest",
          message: "image evil.example.com/x:latest uses the latest tag",
          container: "agent",
          bundle: "basic",
          gate: "policy"
        }
      ])
    })
  )

  it.effect("loads a directory bundle (policy.wasm + data.json + manifest.json) with its name and revision", () =>
    Effect.gen(function* () {
      const b = yield* loadBundle(bundle("basic-dir"))
      expect(b.name).toBe("basic-dir")
      expect(b.revision).toBe("basic-dir-rev-2")
      expect(b.data).toEqual({ sluice: { params: { blockedRegistries: ["evil.example.com/"], label: "default" } } })
      const d = yield* evaluateWith([bundle("basic-dir")], request(workload({ image: "evil.example.com/x:1" })))
      expect(d.deny.map((v) => [v.rule, (v as { bundle?: string }).bundle])).toEqual([["basic/registry", "basic-dir"]])
    })
  )

  it.effect("loads a bare policy.wasm path with the data.json beside it", () =>
    Effect.gen(function* () {
      const b = yield* loadBundle(join(bundle("basic-dir"), "policy.wasm"))
      expect(b.data).toMatchObject({ sluice: { params: { blockedRegistries: ["evil.example.com/"] } } })
      expect(b.revision).toBe("basic-dir-rev-2")
    })
  )

  it.effect("loads an in-memory policy with data, and names its revision after the Wasm hash", () =>
    Effect.gen(function* () {
      const { readFileSync } = yield* Effect.promise(() => import("node:fs"))
      const wasm = new Uint8Array(readFileSync(join(bundle("basic-dir"), "policy.wasm")))
      const b = yield* loadBundle({
        wasm,
        data: { sluice: { params: { blockedRegistries: ["registry.sluice.dev/"] } } }
      })
      expect(b.revision).toBe(`sha256:${createHash("sha256").update(wasm).digest("hex").slice(0, 12)}`)
      const d = makeEvaluator([b]).evaluateRequest(request(), 0).decision
      expect(d.deny.map((v) => v.rule)).toEqual(["basic/registry"])
    })
  )

  it.effect("places data.json files of a hand-made bundle archive at their directory path", () =>
    Effect.gen(function* () {
      const { execFileSync } = yield* Effect.promise(() => import("node:child_process"))
      const { copyFileSync, mkdirSync } = yield* Effect.promise(() => import("node:fs"))
      const dir = mkdtempSync(join(tmpdir(), "sluice-nested-"))
      mkdirSync(join(dir, "src", "sluice", "params"), { recursive: true })
      copyFileSync(join(bundle("basic-dir"), "policy.wasm"), join(dir, "src", "policy.wasm"))
      writeFileSync(join(dir, "src", "data.json"), '{"top": 1}')
      writeFileSync(
        join(dir, "src", "sluice", "params", "data.json"),
        '{"blockedRegistries": ["registry.sluice.dev/"]}'
      )
      const tgz = join(dir, "nested.tar.gz")
      execFileSync("tar", ["-czf", tgz, "-C", join(dir, "src"), "."])
      const b = yield* loadBundle(tgz)
      expect(b.name).toBe("nested")
      expect(b.data).toEqual({ top: 1, sluice: { params: { blockedRegistries: ["registry.sluice.dev/"] } } })
      expect(
        makeEvaluator([b])
          .evaluateRequest(request(), 0)
          .decision.deny.map((v) => v.rule)
      ).toEqual(["basic/registry"])
    })
  )

  it.effect("merges user data over the bundle's data (object or YAML file): lists replace, other keys stay", () =>
    Effect.gen(function* () {
      const overrides = { sluice: { params: { blockedRegistries: ["registry.sluice.dev/"] } } }
      const b = yield* loadBundle({ path: bundle("basic.tar.gz"), data: overrides })
      expect(b.data).toEqual({ sluice: { params: { blockedRegistries: ["registry.sluice.dev/"], label: "default" } } })
      const dir = mkdtempSync(join(tmpdir(), "sluice-data-"))
      const yamlFile = join(dir, "data.yaml")
      writeFileSync(yamlFile, "sluice:\n  params:\n    blockedRegistries: [registry.sluice.dev/]\n")
      const d = yield* evaluateWith([{ path: bundle("basic.tar.gz"), data: yamlFile }])
      expect(d.allow).toBe(false)
      expect(d.deny.map((v) => v.rule)).toEqual(["basic/registry"])
    })
  )

  it.effect("merges several bundles: allow only if all allow, deny/warn concatenated and tagged by bundle", () =>
    Effect.gen(function* () {
      const req = request(workload({ securityContext: { privileged: true } }, { hostNetwork: true }))
      const d = yield* evaluateWith([bundle("basic.tar.gz"), bundle("second.tar.gz")], req)
      expect(d.allow).toBe(false)
      expect(d.deny.map((v) => [(v as { bundle?: string }).bundle, v.rule])).toEqual([
        ["basic", "basic/privileged"],
        ["second", "second/host-network"]
      ])
      expect(d.warn.map((v) => [(v as { bundle?: string }).bundle, v.rule])).toEqual([["second", "second/now"]])
      // One bundle denying is enough to deny.
      const onlySecond = yield* evaluateWith(
        [bundle("basic.tar.gz"), bundle("second.tar.gz")],
        request(workload({}, { hostNetwork: true }))
      )
      expect(onlySecond.allow).toBe(false)
      const none = yield* evaluateWith([bundle("basic.tar.gz"), bundle("second.tar.gz")])
      expect(none.allow).toBe(true)
    })
  )

  it.effect("supplies input.now from Effect's Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-11-21T00:00:00Z"))
      const d = yield* evaluateWith([bundle("second.tar.gz")])
      expect(d.warn).toEqual([
        { rule: "second/now", message: "evaluated at 2026-11-21T00:00:00Z", bundle: "second", gate: "policy" }
      ])
    })
  )

  it.effect("publishes a decision-log entry per evaluation (PubSub and callback)", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.parse("2026-11-21T08:30:00.250Z"))
      const seen: Array<DecisionLogEntry> = []
      const layer = PolicyEngineLive.layerFromBundles([bundle("basic.tar.gz"), bundle("second.tar.gz")], {
        onDecision: (e) => seen.push(e)
      })
      const entries = yield* Effect.gen(function* () {
        const log = yield* PolicyDecisionLog
        const sub = yield* PubSub.subscribe(log.pubsub)
        const engine = yield* PolicyEngine
        yield* engine.evaluate(request(workload(), "host-a/agent-1"))
        yield* engine.evaluate(request(workload({ securityContext: { privileged: true } }), "host-b/agent-2"))
        return yield* PubSub.takeAll(sub)
      }).pipe(Effect.scoped, Effect.provide(layer))
      expect(entries).toHaveLength(2)
      expect(seen).toEqual(entries)
      const [first, second] = entries
      expect(first?.targetId).toBe("host-a/agent-1")
      expect(first?.bundleRevision).toBe("basic-rev-1,second-rev-7")
      expect(first?.bundles).toEqual([
        { name: "basic", revision: "basic-rev-1" },
        { name: "second", revision: "second-rev-7" }
      ])
      expect(first?.at).toBe("2026-11-21T08:30:00.250Z")
      expect(first?.decision.allow).toBe(true)
      expect(second?.decision.allow).toBe(false)
      // The hash is the SHA-256 of the exact input JSON.
      const input = getOrThrow(buildPolicyInput(request(), Date.parse("2026-11-21T08:30:00.250Z")))
      expect(first?.inputSha256).toBe(createHash("sha256").update(JSON.stringify(input)).digest("hex"))
      expect(second?.inputSha256).not.toBe(first?.inputSha256)
    })
  )

  it.effect("streams decision-log entries to a subscriber of PolicyDecisionLog.entries", () =>
    Effect.gen(function* () {
      const log = yield* PolicyDecisionLog
      const engine = yield* PolicyEngine
      const fiber = yield* log.entries.pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      for (let i = 0; i < 3; i++) yield* engine.evaluate(request(workload(), `t-${i}`))
      const entries = yield* Fiber.join(fiber)
      expect(entries.map((e) => e.targetId)).toEqual(["t-0", "t-1", "t-2"])
    }).pipe(Effect.provide(PolicyEngineLive.layerFromBundles([bundle("basic.tar.gz")])))
  )

  it.effect("keeps evaluating when the decision-log callback throws", () =>
    Effect.gen(function* () {
      const d = yield* PolicyEngine.use((e) => e.evaluate(request())).pipe(
        Effect.provide(
          PolicyEngineLive.layerFromBundles([bundle("basic.tar.gz")], {
            onDecision: () => {
              throw new Error("audit sink down")
            }
          })
        )
      )
      expect(d.allow).toBe(true)
    })
  )

  it.effect("hashes identical inputs identically", () =>
    Effect.gen(function* () {
      const b = yield* loadBundle(bundle("basic.tar.gz"))
      const ev = makeEvaluator([b])
      const a = ev.evaluateRequest(request(), 1_000)
      const c = ev.evaluateRequest(request(), 1_000)
      expect(a.inputSha256).toBe(c.inputSha256)
      expect(ev.evaluateRequest(request(), 2_000).inputSha256).not.toBe(a.inputSha256)
    })
  )

  it.effect("reuses one Wasm instance across evaluations (and replaces it only after a trap)", () =>
    Effect.gen(function* () {
      const ev = makeEvaluator([yield* loadBundle(bundle("conflict.tar.gz"))])
      for (let i = 0; i < 500; i++) ev.evaluateInput({ n: i })
      expect(ev.stats().instancesCreated).toBe(1)
      ev.evaluateInput({ trap: true })
      ev.evaluateInput({})
      expect(ev.stats().instancesCreated).toBe(2)
      expect(ev.stats().wasmMemoryBytes).toBeGreaterThan(0)
    })
  )

  it.effect("the built-in layer evaluates the committed bundle; user data is merged over its defaults", () =>
    Effect.gen(function* () {
      const compliant = request(
        workload({
          image: "registry.sluice.dev/agent:1.0.0",
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 10001,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true
          }
        })
      )
      const byDefault = yield* PolicyEngine.use((e) => e.evaluate(compliant)).pipe(
        Effect.provide(PolicyEngineLive.layer)
      )
      expect(byDefault.deny.map((v) => v.rule)).toEqual(["scan-gate/missing-report"])
      expect((byDefault.deny[0] as { bundle?: string }).bundle).toBe("sluice")
      const waived = yield* PolicyEngine.use((e) => e.evaluate(compliant)).pipe(
        Effect.provide(
          PolicyEngineLive.layerBuiltin({ data: { sluice: { params: { scan: { waiveMissingReport: true } } } } })
        )
      )
      expect(waived.allow).toBe(true)
      expect(waived.warn.map((v) => v.rule)).toContain("scan-gate/missing-report")
    })
  )

  it.effect("never fails: the evaluate effect always succeeds, even for broken bundles", () =>
    Effect.gen(function* () {
      const exit = yield* evaluateWith([bundle("nope.tar.gz"), bundle("corrupt.wasm")]).pipe(Effect.exit)
      assert.isTrue(Exit.isSuccess(exit))
    })
  )
})
