import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Effect, Exit, Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decodeRolloutSpec,
  decodeRolloutSpecEffect,
  encodeRolloutSpec,
  parseRolloutSpec,
  type RolloutSpec,
  type SpecError,
  strategyKind
} from "../../src/spec/index.js"

const fixture = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../fixtures/specs/${name}`, import.meta.url)), "utf8")

const parseOk = (name: string): RolloutSpec => {
  const r = parseRolloutSpec(
    fixture(name),
    name.endsWith(".json") ? { format: "json", source: name } : { source: name }
  )
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const base = () => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "agent" } as Record<string, unknown>,
  spec: {
    target: { adapter: "simulated" },
    artifact: { image: "r.io/agent:2" },
    strategy: { rolling: { batchSize: 2 } } as Record<string, unknown>
  } as Record<string, unknown>
})

const problemsOf = (input: unknown): Array<string> => {
  const r = decodeRolloutSpec(input)
  if (Result.isSuccess(r)) throw new Error("expected the spec to be rejected")
  expect(r.failure._tag).toBe("SpecError")
  return r.failure.problems.map((p) => (p.path === "" ? p.message : `${p.path}: ${p.message}`))
}

describe("good specs decode", () => {
  it("rolling (with defaults, topology shorthand, probe)", () => {
    const spec = parseOk("rolling.yaml")
    expect(strategyKind(spec.spec.strategy)).toBe("rolling")
    expect(spec.spec.strategy).toEqual({
      rolling: {
        batchSize: { kind: "percent", value: 25 },
        maxUnavailable: { kind: "percent", value: 10 },
        maxSurge: { kind: "count", value: 0 },
        pauseBetweenWaves: 30_000
      }
    })
    expect(spec.spec.topology).toEqual({ key: "topology.kubernetes.io/zone" })
    expect(spec.spec.health).toEqual({
      progressDeadline: 600_000,
      minReadySeconds: 5,
      probe: {
        http: { port: 8080, path: "/healthz" },
        initialDelay: 0,
        period: 5000,
        successThreshold: 1,
        failureThreshold: 3
      }
    })
    expect(spec.spec.gates).toEqual({
      policy: { enabled: true },
      scan: { enabled: true, reportsDir: "./reports", waiveMissingReport: false },
      signature: { enabled: false },
      analysis: [],
      manualApproval: { before: "first" }
    })
    expect(spec.spec.artifact.image).toEqual({
      raw: "registry.sluice.dev/agents/node-agent:2.0.0",
      registry: "registry.sluice.dev",
      repository: "agents/node-agent",
      tag: "2.0.0"
    })
    expect(spec.spec.concurrency).toEqual({ maxInFlight: 10 })
    expect(spec.metadata).toEqual({ name: "node-agent", labels: { team: "platform" } })
  })

  it("canary (steps, analysis templates, remainder batches, maxSharePerWave)", () => {
    const spec = parseOk("canary.yaml")
    if (!("canary" in spec.spec.strategy)) throw new Error("not canary")
    expect(spec.spec.strategy.canary).toEqual({
      steps: [
        { setWeight: 1 },
        { pause: { duration: 5_400_000 } },
        { setWeight: 10 },
        { pause: {} },
        { analysis: { templates: ["error-rate"] } },
        { setWeight: 50 }
      ],
      maxUnavailable: { kind: "count", value: 1 },
      rolling: { batchSize: { kind: "percent", value: 25 }, pauseBetweenWaves: 500 }
    })
    expect(spec.spec.topology).toEqual({
      key: "topology.kubernetes.io/zone",
      maxSharePerWave: { kind: "percent", value: 34 }
    })
    expect(spec.spec.gates.analysis[0]?.interval).toBe(60_000)
    expect(spec.spec.gates.manualApproval.before).toEqual([0, 2])
    expect(spec.spec.artifact.image.digest).toMatch(/^sha256:/)
  })

  it("blueGreen (defaults, config-only change)", () => {
    const spec = parseOk("blue-green.yaml")
    expect(spec.spec.strategy).toEqual({
      blueGreen: {
        previewSize: { kind: "percent", value: 5 },
        autoPromote: false,
        maxUnavailable: { kind: "count", value: 1 }
      }
    })
    expect(spec.spec.artifact.config).toEqual({
      env: { LOG_LEVEL: "debug" },
      files: { "/etc/sensor/sensor.conf": "mode = strict\n" },
      signal: "SIGHUP"
    })
    expect(spec.spec.artifact.image.registry).toBe("localhost:5000")
  })

  it("recreate", () => {
    const spec = parseOk("recreate.yaml")
    expect(spec.spec.strategy).toEqual({ recreate: {} })
    expect(spec.spec.rollback).toEqual({ onFailure: true, onAbort: false })
    expect(spec.spec.health.progressDeadline).toBe(120_000)
  })

  it("partition (JSON)", () => {
    const spec = parseOk("partition.json")
    expect(spec.spec.strategy).toEqual({
      partition: { partitions: [8, 5, 0], maxUnavailable: { kind: "count", value: 1 }, pauseBetweenWaves: 60_000 }
    })
    expect(spec.spec.health.probe?.tcp).toEqual({ port: 5432 })
    expect(spec.spec.gates.manualApproval.before).toBe("every")
  })

  it("partition steps as percentages", () => {
    const doc = base()
    doc.spec.strategy = { partition: { steps: ["80%", "50%", "0%"] } }
    const r = decodeRolloutSpec(doc)
    expect(Result.isSuccess(r) && r.success.spec.strategy).toEqual({
      partition: { steps: [80, 50, 0], maxUnavailable: { kind: "count", value: 1 } }
    })
  })

  it("defaults: selector, health, gates, rollback", () => {
    const r = decodeRolloutSpec(base())
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success.spec.target.selector).toEqual({})
    expect(r.success.spec.health).toEqual({ progressDeadline: 600_000, minReadySeconds: 0 })
    expect(r.success.spec.rollback).toEqual({ onFailure: true, onAbort: true })
    expect(r.success.spec.gates.manualApproval.before).toBe("none")
    expect(r.success.spec.topology).toBeUndefined()
  })

  it("gates.policy.profiles: the Pod Security levels, each named", () => {
    const doc = base()
    doc.spec.gates = { policy: { profiles: ["pod-security/restricted", "pod-security/baseline"] } }
    const r = decodeRolloutSpec(doc)
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    expect(r.success.spec.gates.policy).toEqual({
      enabled: true,
      profiles: ["pod-security/restricted", "pod-security/baseline"]
    })
    const bad = base()
    bad.spec.gates = { policy: { profiles: ["pod-security/privileged", "baseline"] } }
    const problems = problemsOf(bad)
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(
      /^spec\.gates\.policy\.profiles\[0\]: .*"pod-security\/baseline" or "pod-security\/restricted"/
    )
    expect(problems[1]).toMatch(/^spec\.gates\.policy\.profiles\[1\]: /)
  })

  it("as an Effect", () => {
    expect(Exit.isSuccess(Effect.runSyncExit(decodeRolloutSpecEffect(base())))).toBe(true)
    const exit = Effect.runSyncExit(decodeRolloutSpecEffect({}))
    expect(Exit.isFailure(exit)).toBe(true)
  })
})

describe("bad specs report every problem with its path", () => {
  it("the invalid-many fixture", () => {
    const r = parseRolloutSpec(fixture("invalid-many.yaml"), { source: "invalid-many.yaml" })
    if (Result.isSuccess(r)) throw new Error("expected failure")
    const lines = r.failure.problems.map((p) => `${p.path}: ${p.message}`)
    expect(lines).toEqual(
      expect.arrayContaining([
        "metadata.name: expected a DNS-1123 label (lowercase letters, digits and '-', starting and ending with an alphanumeric, at most 63 characters), got \"Node_Agent\"",
        'spec.artifact.image: invalid image reference "Registry.Sluice.dev/Agents/Node-Agent:2.0.0": repository path component "Agents" must be lowercase',
        'spec.strategy.canary.steps[1].pause.duration: expected a duration like "90s", "10m", "1h30m" or "500ms", got "30 seconds"',
        "spec.strategy.canary.steps[2].setWeight: expected an integer 0..100, got 140",
        "spec.strategy.canary.maxUnavailabel: unknown field (did you mean maxUnavailable?)",
        "spec.health.probe.tcp.port: expected a port number 1..65535, got 70000",
        'spec.gates.manualApproval.before: expected "none", "first", "every" or a list of wave indexes, got "sometimes"',
        "spec.rollbak: unknown field (did you mean rollback?)"
      ])
    )
    expect(lines).toHaveLength(8)
    // Each problem carries where it is in the file.
    const setWeight = r.failure.problems.find((p) => p.path === "spec.strategy.canary.steps[2].setWeight")
    expect(setWeight).toMatchObject({ source: "invalid-many.yaml", line: 13, column: 11, found: "140" })
    expect(r.failure.message).toContain("invalid Rollout spec (8 problems):")
    expect(r.failure.message).toContain(
      "spec.strategy.canary.steps[2].setWeight: expected an integer 0..100, got 140 (at invalid-many.yaml:13:11)"
    )
  })

  it("unknown fields at several depths, with did-you-mean", () => {
    const doc = base()
    ;(doc as Record<string, unknown>).extra = 1
    ;(doc.metadata as Record<string, unknown>).nmae = "x"
    doc.spec.strategy = { rolling: { batchsize: 5, batchSize: 5, zzz: 1 } }
    doc.spec.health = { probe: { tcp: { port: 80, host: "x" } } }
    doc.spec.gates = { scan: { enabld: true } }
    doc.spec.topology = { key: "zone", maxShare: 2 }
    expect(problemsOf(doc)).toEqual([
      "extra: unknown field",
      "metadata.nmae: unknown field (did you mean name?)",
      "spec.strategy.rolling.batchsize: unknown field (did you mean batchSize?)",
      "spec.strategy.rolling.zzz: unknown field",
      "spec.topology.maxShare: unknown field (did you mean maxSharePerWave?)",
      "spec.health.probe.tcp.host: unknown field",
      "spec.gates.scan.enabld: unknown field (did you mean enabled?)"
    ])
  })

  it("exactly one strategy: says which were given, next to other problems", () => {
    const doc = base()
    doc.spec.strategy = { rolling: { batchSize: 0 }, canary: { steps: [{ setWeight: 5 }] } }
    expect(problemsOf(doc)).toEqual([
      'spec.strategy.rolling.batchSize: expected a count (an integer >= 1) or a percentage "1%".."100%", got 0',
      "spec.strategy: expected exactly one strategy (rolling, canary, blueGreen, recreate, partition), got 2: rolling, canary"
    ])
    doc.spec.strategy = {}
    expect(problemsOf(doc)).toEqual([
      "spec.strategy: expected exactly one strategy (rolling, canary, blueGreen, recreate, partition), got none"
    ])
    doc.spec.strategy = { rolling: { batchSize: 1 }, recreate: {} }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy: expected exactly one strategy (rolling, canary, blueGreen, recreate, partition), got 2: rolling, recreate"
    ])
    doc.spec.strategy = { rollling: {} }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.rollling: unknown field (did you mean rolling?)",
      "spec.strategy: expected exactly one strategy (rolling, canary, blueGreen, recreate, partition), got none"
    ])
  })

  it("canary weights must increase; pauses need a preceding wave; templates must exist", () => {
    const doc = base()
    doc.spec.strategy = {
      canary: {
        steps: [
          { pause: {} },
          { setWeight: 10 },
          { setWeight: 10 },
          { setWeight: 5 },
          { analysis: { templates: ["nope"] } },
          { setWeight: 50, pause: {} }
        ]
      }
    }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.canary.steps[5]: expected exactly one step kind (setWeight, pause, analysis), got 2: setWeight, pause"
    ])
    ;(doc.spec.strategy as { canary: { steps: Array<unknown> } }).canary.steps.pop()
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.canary.steps[0]: a pause step must follow a setWeight step with a weight above 0",
      "spec.strategy.canary.steps[2].setWeight: setWeight must increase from step to step: 10 is not above the previous 10",
      "spec.strategy.canary.steps[3].setWeight: setWeight must increase from step to step: 5 is not above the previous 10"
    ])
    doc.spec.strategy = { canary: { steps: [{ setWeight: 10 }, { analysis: { templates: ["nope"] } }] } }
    expect(problemsOf(doc)).toEqual([
      'spec.strategy.canary.steps[1].analysis.templates[0]: unknown analysis template "nope" (defined in spec.gates.analysis: none)'
    ])
    doc.spec.strategy = { canary: { steps: [] } }
    expect(problemsOf(doc)).toEqual(["spec.strategy.canary.steps: expected a non-empty list, got []"])
  })

  it("partition and blue-green rules", () => {
    const doc = base()
    doc.spec.strategy = { partition: { partitions: [5, 8, 8] } }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.partition.partitions[1]: partitions must be strictly decreasing: 8 is not below the previous 5",
      "spec.strategy.partition.partitions[2]: partitions must be strictly decreasing: 8 is not below the previous 8"
    ])
    doc.spec.strategy = { partition: { partitions: [1, 0], steps: ["10%"] } }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.partition: expected exactly one of (partitions, steps), got 2: partitions, steps"
    ])
    doc.spec.strategy = { partition: { steps: ["120%"] } }
    expect(problemsOf(doc)).toEqual([
      'spec.strategy.partition.steps[0]: expected a percentage "0%".."100%", got "120%"'
    ])
    doc.spec.strategy = { blueGreen: { autoPromotionSeconds: 30 } }
    expect(problemsOf(doc)).toEqual([
      "spec.strategy.blueGreen.autoPromotionSeconds: autoPromotionSeconds requires autoPromote: true"
    ])
  })

  it("recreate takes an empty mapping only", () => {
    const doc = base()
    doc.spec.strategy = { recreate: { force: true } }
    expect(problemsOf(doc)).toEqual(["spec.strategy.recreate.force: unknown field"])
    doc.spec.strategy = { recreate: "yes" }
    expect(problemsOf(doc)).toEqual(['spec.strategy.recreate: expected an empty mapping {}, got "yes"'])
  })

  it("missing required fields and wrong types", () => {
    expect(problemsOf({ apiVersion: "v1", kind: "Rollout", spec: { strategy: { recreate: {} } } })).toEqual([
      'apiVersion: expected "sluice.dev/v1alpha1", got "v1"',
      "metadata: missing required field",
      "spec.target: missing required field",
      "spec.artifact: missing required field"
    ])
    expect(problemsOf("hello")).toEqual([
      'expected a Rollout document (a mapping with apiVersion, kind, metadata and spec), got "hello"'
    ])
    const doc = base()
    doc.spec.topology = 5
    doc.metadata = { name: "agent", labels: { "bad key!": "x", ok: "-bad" } }
    doc.spec.rollback = { onFailure: "yes" }
    doc.spec.artifact = { image: "r.io/a:1", config: { env: { PORT: 8080, "bad-name": "x" }, files: { "etc/x": "y" } } }
    expect(problemsOf(doc)).toEqual([
      'metadata.labels["bad key!"]: invalid key: expected a label key like `app` or `topology.kubernetes.io/zone`',
      "metadata.labels.ok: expected a label value (at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric), got \"-bad\"",
      "spec.artifact.config.env.bad-name: invalid key: expected an environment variable name [A-Za-z_][A-Za-z0-9_]*",
      "spec.artifact.config.env.PORT: expected a string (quote numbers and booleans), got 8080",
      "spec.artifact.config.files[\"etc/x\"]: invalid key: expected an absolute file path without '..' components",
      "spec.topology: expected a label key, or { key, maxSharePerWave?, order?, values?, groupBy?, groupsAtOnce?, maxFailuresPerGroup? }, got 5",
      'spec.rollback.onFailure: expected a boolean (true or false), got "yes"'
    ])
  })

  it("never throws on hostile input", () => {
    const cyclic: Record<string, unknown> = { apiVersion: "sluice.dev/v1alpha1" }
    cyclic.self = cyclic
    const withGetter = Object.defineProperty({}, "spec", {
      enumerable: true,
      get() {
        throw new Error("boom")
      }
    })
    for (const input of [undefined, null, 0, [], cyclic, withGetter, JSON.parse('{"__proto__": {"x": 1}}')]) {
      const r = decodeRolloutSpec(input)
      expect(Result.isFailure(r)).toBe(true)
      expect((r as Result.Failure<RolloutSpec, SpecError>).failure.problems.length).toBeGreaterThan(0)
    }
  })
})

describe("encode", () => {
  it("encodes back to the document form", () => {
    const spec = parseOk("canary.yaml")
    const encoded = encodeRolloutSpec(spec)
    if (Result.isFailure(encoded)) throw new Error(encoded.failure.message)
    const strategy = encoded.success.spec.strategy as { canary: { steps: ReadonlyArray<unknown>; rolling?: unknown } }
    expect(strategy.canary.steps[1]).toEqual({ pause: { duration: "1h30m" } })
    expect(strategy.canary.rolling).toEqual({ batchSize: "25%", pauseBetweenWaves: "500ms" })
    expect(encoded.success.spec.artifact.image).toBe(spec.spec.artifact.image.raw)
    expect(decodeRolloutSpec(encoded.success)).toEqual(Result.succeed(spec))
  })
})

describe("topology order", () => {
  const withTopology = (topology: unknown, strategy: Record<string, unknown> = { rolling: { batchSize: 2 } }) => {
    const doc = base()
    doc.spec.topology = topology
    doc.spec.strategy = strategy
    return doc
  }

  it("order: sequential with values decodes and encodes back as written", () => {
    const topology = { key: "topology.kubernetes.io/zone", order: "sequential", values: ["zone-c", "zone-a"] }
    for (const strategy of [
      { rolling: { batchSize: 2 } },
      { canary: { steps: [{ setWeight: 10 }] } },
      { recreate: {} }
    ]) {
      const r = decodeRolloutSpec(withTopology(topology, strategy))
      if (Result.isFailure(r)) throw new Error(r.failure.message)
      expect(r.success.spec.topology).toEqual(topology)
      const encoded = encodeRolloutSpec(r.success)
      expect(Result.isSuccess(encoded) && encoded.success.spec.topology).toEqual(topology)
    }
    const spread = decodeRolloutSpec(withTopology({ key: "zone", order: "spread" }))
    expect(Result.isSuccess(spread) && spread.success.spec.topology).toEqual({ key: "zone", order: "spread" })
  })

  it("values only with order: sequential, unique; order is spread or sequential", () => {
    expect(problemsOf(withTopology({ key: "zone", values: ["a"] }))).toEqual([
      "spec.topology.values: values is only allowed with order: sequential"
    ])
    expect(problemsOf(withTopology({ key: "zone", order: "spread", values: ["a"] }))).toEqual([
      "spec.topology.values: values is only allowed with order: sequential"
    ])
    expect(problemsOf(withTopology({ key: "zone", order: "sequential", values: ["a", "b", "a"] }))).toEqual([
      'spec.topology.values[2]: duplicate topology value "a"'
    ])
    expect(problemsOf(withTopology({ key: "zone", order: "zigzag" }))).toEqual([
      'spec.topology.order: expected "spread" (every wave spread across the values) or "sequential" (one value after another), got "zigzag"'
    ])
  })

  it("blue-green and partition reject order: sequential", () => {
    expect(problemsOf(withTopology({ key: "zone", order: "sequential" }, { blueGreen: {} }))).toEqual([
      "spec.topology.order: sequential works with the rolling, canary and recreate strategies, not with blueGreen: blue-green promotes the whole fleet at once after one preview"
    ])
    expect(
      problemsOf(withTopology({ key: "zone", order: "sequential" }, { partition: { partitions: [3, 0] } }))
    ).toEqual([
      "spec.topology.order: sequential works with the rolling, canary and recreate strategies, not with partition: partition waves follow ordinals, not topology values"
    ])
    const spread = decodeRolloutSpec(withTopology({ key: "zone", order: "spread" }, { blueGreen: {} }))
    expect(Result.isSuccess(spread)).toBe(true)
  })
})
