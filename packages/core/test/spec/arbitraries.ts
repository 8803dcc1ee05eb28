import fc from "fast-check"
import { formatDuration } from "../../src/spec/Duration.js"

/** Property-test runs: `SLUICE_PROPERTY_RUNS` (CI sets 1000), default 200. */
export const numRuns = (() => {
  const n = Number(process.env.SLUICE_PROPERTY_RUNS ?? "200")
  return Number.isSafeInteger(n) && n > 0 ? n : 200
})()

const alnum = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789".split(""))
const hex = fc.constantFrom(..."0123456789abcdef".split(""))
const tagChar = fc.constantFrom(..."abcXYZ019_.-".split(""))
const envChar = fc.constantFrom(..."ABCXYZ019_".split(""))
const lowerWord = fc.string({ unit: alnum, minLength: 1, maxLength: 8 })

export const arbDnsLabel = fc
  .tuple(lowerWord, fc.option(lowerWord, { nil: undefined }))
  .map(([a, b]) => (b === undefined ? a : `${a}-${b}`))

export const arbImage = fc
  .record({
    registry: fc.constantFrom(undefined, "registry.sluice.dev", "localhost:5000", "r.io", "10.0.0.1:443"),
    path: fc.array(lowerWord, { minLength: 1, maxLength: 3 }),
    tag: fc.option(
      fc.tuple(alnum, fc.string({ unit: tagChar, maxLength: 10 })).map(([a, b]) => a + b),
      { nil: undefined }
    ),
    digest: fc.option(fc.string({ unit: hex, minLength: 64, maxLength: 64 }), { nil: undefined })
  })
  .map(
    ({ registry, path, tag, digest }) =>
      `${registry === undefined ? "" : `${registry}/`}${path.join("/")}${tag === undefined ? "" : `:${tag}`}${
        digest === undefined ? "" : `@sha256:${digest}`
      }`
  )

export const arbDurationText = fc.integer({ min: 0, max: 48 * 3_600_000 }).map(formatDuration)

export const arbCountOrPercent = (minCount: number, minPercent: number) =>
  fc.oneof(
    fc.integer({ min: minCount, max: 40 }),
    fc.integer({ min: minPercent, max: 100 }).map((p) => `${p}%`)
  )

const templateNames = ["error-rate", "latency", "saturation"] as const

export const arbAnalysis = fc.uniqueArray(fc.constantFrom(...templateNames), { maxLength: 3 }).map((names) =>
  names.map((name) => ({
    name,
    provider: "prometheus",
    address: "http://prometheus:9090",
    query: `rate(${name.replace("-", "_")}[5m])`,
    successCondition: "result < 0.05",
    interval: "1m",
    count: 3
  }))
)

export const arbRolling = fc.record(
  {
    batchSize: arbCountOrPercent(1, 1),
    maxUnavailable: arbCountOrPercent(1, 1),
    maxSurge: arbCountOrPercent(0, 0),
    pauseBetweenWaves: arbDurationText
  },
  { requiredKeys: ["batchSize"] }
)

/** Canary steps with strictly increasing weights; pause/analysis only after a weight > 0. */
export const arbCanary = (templates: ReadonlyArray<string>) =>
  fc
    .record({
      weights: fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }),
      extras: fc.array(
        fc.array(
          fc.oneof(
            fc.record({ pause: fc.record({ duration: arbDurationText }, { requiredKeys: [] }) }),
            ...(templates.length > 0
              ? [
                  fc.record({
                    analysis: fc.record({
                      templates: fc.uniqueArray(fc.constantFrom(...templates), { minLength: 1, maxLength: 2 })
                    })
                  })
                ]
              : [])
          ),
          { maxLength: 2 }
        ),
        { minLength: 6, maxLength: 6 }
      ),
      maxUnavailable: fc.option(arbCountOrPercent(1, 1), { nil: undefined }),
      rolling: fc.option(
        fc.record(
          {
            batchSize: arbCountOrPercent(1, 1),
            maxUnavailable: arbCountOrPercent(1, 1),
            pauseBetweenWaves: arbDurationText
          },
          { requiredKeys: ["batchSize"] }
        ),
        { nil: undefined }
      )
    })
    .map(({ weights, extras, maxUnavailable, rolling }) => ({
      steps: [...weights]
        .sort((a, b) => a - b)
        .flatMap((w, i) => [{ setWeight: w } as Record<string, unknown>, ...(extras[i] ?? [])]),
      ...(maxUnavailable !== undefined ? { maxUnavailable } : {}),
      ...(rolling !== undefined ? { rolling } : {})
    }))

export const arbBlueGreen = fc
  .record(
    {
      previewSize: arbCountOrPercent(1, 1),
      autoPromote: fc.boolean(),
      autoPromotionSeconds: fc.integer({ min: 0, max: 600 }),
      maxUnavailable: arbCountOrPercent(1, 1)
    },
    { requiredKeys: [] }
  )
  .map((bg) => (bg.autoPromote === true ? bg : { ...bg, autoPromotionSeconds: undefined }))
  .map((bg) => Object.fromEntries(Object.entries(bg).filter(([, v]) => v !== undefined)))

export const arbPartition = fc.oneof(
  fc
    .record({
      values: fc.uniqueArray(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 5 }),
      pauseBetweenWaves: fc.option(arbDurationText, { nil: undefined })
    })
    .map(({ values, pauseBetweenWaves }) => ({
      partitions: [...values].sort((a, b) => b - a),
      ...(pauseBetweenWaves !== undefined ? { pauseBetweenWaves } : {})
    })),
  fc
    .uniqueArray(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 5 })
    .map((values) => ({ steps: [...values].sort((a, b) => b - a).map((p) => `${p}%`), maxUnavailable: "50%" }))
)

export const arbStrategy = (templates: ReadonlyArray<string>) =>
  fc.oneof(
    fc.record({ rolling: arbRolling }),
    fc.record({ canary: arbCanary(templates) }),
    fc.record({ blueGreen: arbBlueGreen }),
    fc.constant({ recreate: {} }),
    fc.record({ partition: arbPartition })
  )

export const arbTopology = fc.oneof(
  fc.constantFrom("zone", "topology.kubernetes.io/zone"),
  fc.record(
    { key: fc.constantFrom("zone", "topology.kubernetes.io/zone"), maxSharePerWave: arbCountOrPercent(1, 1) },
    { requiredKeys: ["key"] }
  )
)

export const arbProbe = fc
  .record(
    {
      kind: fc.oneof(
        fc.record({ http: fc.record({ port: fc.integer({ min: 1, max: 65535 }), path: fc.constant("/healthz") }) }),
        fc.record({ tcp: fc.record({ port: fc.integer({ min: 1, max: 65535 }) }) }),
        fc.record({ exec: fc.record({ command: fc.constant(["agent", "--check"]) }) })
      ),
      initialDelay: arbDurationText,
      period: arbDurationText,
      successThreshold: fc.integer({ min: 1, max: 5 }),
      failureThreshold: fc.integer({ min: 1, max: 5 })
    },
    { requiredKeys: ["kind"] }
  )
  .map(({ kind, ...rest }) => ({ ...kind, ...rest }))

/** A valid Rollout document in its encoded (YAML/JSON) form. */
export const arbSpecDocument = arbAnalysis.chain((analysis) =>
  fc.record({
    apiVersion: fc.constant("sluice.dev/v1alpha1"),
    kind: fc.constant("Rollout"),
    metadata: fc.record(
      { name: arbDnsLabel, labels: fc.dictionary(lowerWord, lowerWord, { maxKeys: 3 }) },
      { requiredKeys: ["name"] }
    ),
    spec: fc.record(
      {
        target: fc.record(
          {
            adapter: fc.constantFrom("simulated", "docker", "kubernetes"),
            selector: fc.dictionary(
              lowerWord,
              fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown),
              { maxKeys: 3 }
            )
          },
          { requiredKeys: ["adapter"] }
        ),
        artifact: fc.record(
          {
            image: arbImage,
            config: fc.record(
              {
                env: fc.dictionary(
                  fc.string({ unit: envChar, maxLength: 8 }).map((s) => `E${s}`),
                  fc.string({ maxLength: 8 }),
                  {
                    maxKeys: 3
                  }
                ),
                files: fc.dictionary(
                  lowerWord.map((w) => `/etc/${w}.conf`),
                  fc.string({ maxLength: 20 }),
                  { maxKeys: 2 }
                ),
                signal: fc.constantFrom("SIGHUP", "SIGUSR1")
              },
              { requiredKeys: [] }
            )
          },
          { requiredKeys: ["image"] }
        ),
        strategy: arbStrategy(analysis.map((a) => a.name)),
        topology: arbTopology,
        health: fc.record(
          { progressDeadline: arbDurationText, minReadySeconds: fc.integer({ min: 0, max: 600 }), probe: arbProbe },
          { requiredKeys: [] }
        ),
        gates: fc.record(
          {
            policy: fc.record(
              {
                enabled: fc.boolean(),
                bundles: fc.array(fc.constant("policies/bundle.tar.gz"), { maxLength: 1 }),
                profiles: fc.subarray(["pod-security/baseline", "pod-security/restricted"])
              },
              { requiredKeys: [] }
            ),
            scan: fc.record(
              { enabled: fc.boolean(), reportsDir: fc.constant("./reports"), waiveMissingReport: fc.boolean() },
              { requiredKeys: [] }
            ),
            analysis: fc.constant(analysis),
            manualApproval: fc.record(
              {
                before: fc.oneof(
                  fc.constantFrom("none", "first", "every"),
                  fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { maxLength: 3 })
                )
              },
              { requiredKeys: [] }
            )
          },
          { requiredKeys: ["analysis"] }
        ),
        rollback: fc.record({ onFailure: fc.boolean(), onAbort: fc.boolean() }, { requiredKeys: [] }),
        concurrency: fc.record({ maxInFlight: fc.integer({ min: 1, max: 50 }) }, { requiredKeys: [] })
      },
      { requiredKeys: ["target", "artifact", "strategy", "gates"] }
    )
  })
)

/**
 * `topology.order: sequential`, with `values` drawn from the zones the planner properties use,
 * `""` (unlabelled targets) and one value no target has.
 */
export const arbSequentialTopology = fc.record(
  {
    key: fc.constantFrom("zone", "topology.kubernetes.io/zone"),
    order: fc.constant("sequential"),
    values: fc.uniqueArray(fc.constantFrom("eu-1c", "eu-1a", "us-2a", "eu-1b", "zz-9", ""), { maxLength: 4 }),
    maxSharePerWave: arbCountOrPercent(1, 1)
  },
  { requiredKeys: ["key", "order"] }
)

/** A valid document with `topology.order: sequential` (so a rolling, canary or recreate strategy). */
export const arbSequentialSpecDocument = fc
  .tuple(
    arbSpecDocument.filter((doc) => !("blueGreen" in doc.spec.strategy) && !("partition" in doc.spec.strategy)),
    arbSequentialTopology
  )
  .map(([doc, topology]) => ({ ...doc, spec: { ...doc.spec, topology } }))
