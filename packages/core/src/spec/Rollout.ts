import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { countOrPercent } from "./CountOrPercent.js"
import { DurationMs } from "./Duration.js"
import { ImageRefFromString } from "./ImageRef.js"
import { decodeSuccessCondition } from "./SuccessCondition.js"

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/** A field that may be absent from the document; when absent it decodes as `encodedDefault`. */
const withDefault =
  <S extends Schema.Top>(encodedDefault: S["Encoded"]) =>
  (schema: S) =>
    schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(encodedDefault)))

/**
 * A struct-valued field that may be absent; when absent it decodes as the struct decoded from `{}`
 * (so its own defaults apply). Uses the Type-side default so that, when the field is present,
 * the real schema (with its annotations) decodes it and problems read well.
 */
function withStructDefault<S extends Schema.Codec<unknown, unknown, never, never>>(schema: S) {
  let cached: { value: S["Type"] } | undefined
  const value = Effect.sync(() => {
    cached ??= { value: Schema.decodeUnknownSync(schema)({}) }
    return cached.value
  })
  return schema.pipe(Schema.withDecodingDefaultTypeKey(value))
}

const expecting = <S extends Schema.Top>(schema: S, expected: string): S["Rebuild"] => schema.annotate({ expected })

/** `expected exactly one of a, b, c (got 2: a, b)` — shared by the schema and the raw pre-checks. */
export function exactlyOneMessage(what: string, keys: ReadonlyArray<string>, given: ReadonlyArray<string>): string {
  const got = given.length === 0 ? "got none" : `got ${given.length}: ${given.join(", ")}`
  return `expected exactly one ${what} (${keys.join(", ")}), ${got}`
}

const exactlyOneOf = (what: string, keys: ReadonlyArray<string>) =>
  Schema.makeFilter<object>((o) => {
    const given = keys.filter((k) => (o as Record<string, unknown>)[k] !== undefined)
    return given.length === 1
      ? undefined
      : new SchemaIssue.InvalidValue({ message: exactlyOneMessage(what, keys, given) })
  })

/**
 * Where the raw document must hold exactly one of some keys. The schema checks these too, but a
 * struct-level check only runs once every field of the struct decoded, so `decodeRolloutSpec`
 * also checks them on the raw input to report them next to the other problems.
 */
export const EXACTLY_ONE_RULES: ReadonlyArray<{
  /** Path with `*` for "every array item". */
  readonly path: ReadonlyArray<string>
  readonly what: string
  readonly keys: ReadonlyArray<string>
}> = [
  { path: ["spec", "strategy"], what: "strategy", keys: ["rolling", "canary", "blueGreen", "recreate", "partition"] },
  { path: ["spec", "strategy", "canary", "steps", "*"], what: "step kind", keys: ["setWeight", "pause", "analysis"] },
  { path: ["spec", "strategy", "partition"], what: "of", keys: ["partitions", "steps"] },
  { path: ["spec", "health", "probe"], what: "probe kind", keys: ["http", "tcp", "exec"] },
  { path: ["spec", "gates", "signature", "keyless"], what: "subject match", keys: ["subject", "subjectRegExp"] }
]

const rule = (path: string) => EXACTLY_ONE_RULES.find((r) => r.path.join(".") === path)!

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DnsLabel = expecting(
  Schema.String.check(Schema.isPattern(DNS_LABEL), Schema.isMaxLength(63)),
  "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with an alphanumeric, at most 63 characters)"
)

const LABEL_KEY =
  /^(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/
const LABEL_KEY_EXPECTED = "a label key like `app` or `topology.kubernetes.io/zone`"
const LabelKey = expecting(
  Schema.String.check(Schema.isPattern(LABEL_KEY), Schema.isMaxLength(316)),
  LABEL_KEY_EXPECTED
)
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const LabelValue = expecting(
  Schema.String.check(Schema.isPattern(LABEL_VALUE), Schema.isMaxLength(63)),
  "a label value (at most 63 alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric)"
)
/** Invalid keys of a record are reported as `invalid key: expected …` (see issueToProblems). */
const Labels = Schema.Record(LabelKey, LabelValue)

const NonEmpty = expecting(Schema.String.check(Schema.isMinLength(1)), "a non-empty string")
const PositiveInt = expecting(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)), "an integer >= 1")
const NonNegativeInt = expecting(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)), "an integer >= 0")
const Port = expecting(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })), "a port number 1..65535")
const Percent = expecting(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 })), "an integer 0..100")

const BatchSize = countOrPercent({ minCount: 1, minPercent: 1 })
const MaxUnavailable = countOrPercent({ minCount: 1, minPercent: 1 })
const MaxSurge = countOrPercent({ minCount: 0, minPercent: 0 })

const PERCENT_STRING = /^(\d{1,3})%$/
const PERCENT_EXPECTED = 'a percentage "0%".."100%"'
/** `"80%"` ⇄ `80`. */
const PercentString = Schema.String.pipe(
  Schema.decodeTo(
    Percent,
    SchemaTransformation.transformEffect({
      decode: (s: string) => {
        const m = PERCENT_STRING.exec(s)
        const n = m === null ? Number.NaN : Number(m[1])
        return n >= 0 && n <= 100
          ? Effect.succeed(n)
          : Effect.fail(new SchemaIssue.InvalidValue({ expected: PERCENT_EXPECTED }))
      },
      encode: (n: number) => Effect.succeed(`${n}%`)
    })
  )
).annotate({ expected: PERCENT_EXPECTED })

/** Strictly decreasing numbers, reported at the offending index. */
const strictlyDecreasing = (label: string) =>
  Schema.makeFilter<ReadonlyArray<number>>((xs) =>
    xs.flatMap((x, i) =>
      i > 0 && x >= xs[i - 1]!
        ? [
            {
              path: [i],
              issue: new SchemaIssue.InvalidValue({
                message: `${label} must be strictly decreasing: ${x} is not below the previous ${xs[i - 1]}`
              })
            }
          ]
        : []
    )
  )

// ---------------------------------------------------------------------------------------------
// metadata, target, artifact
// ---------------------------------------------------------------------------------------------

export const Metadata = Schema.Struct({
  name: DnsLabel,
  labels: Schema.optionalKey(Labels)
})
export type Metadata = typeof Metadata.Type

export const TargetSpec = Schema.Struct({
  /** `simulated`, `docker`, `kubernetes` or any registered adapter name. */
  adapter: expecting(
    Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9._-]*$/), Schema.isMaxLength(63)),
    "an adapter name like simulated, docker or kubernetes"
  ),
  /** Adapter-specific; validated later by the adapter's own `selectorSchema`. */
  selector: Schema.Record(Schema.String, Schema.Unknown).pipe(withDefault({}))
})
export type TargetSpec = typeof TargetSpec.Type

const EnvName = expecting(
  Schema.String.check(Schema.isPattern(/^[A-Za-z_][A-Za-z0-9_]*$/)),
  "an environment variable name [A-Za-z_][A-Za-z0-9_]*"
)
const FilePath = expecting(
  Schema.String.check(
    Schema.makeFilter((k: string) => k.startsWith("/") && !k.includes("\0") && !k.split("/").includes(".."))
  ),
  "an absolute file path without '..' components"
)
// The config is hashed as canonical JSON (RFC 8785), which has no encoding for a lone UTF-16
// surrogate (a YAML "\ud800" escape): refused here, with its path, rather than failing the plan.
// In a `u` regex a surrogate class matches only an unpaired surrogate.
const LONE_SURROGATE = /\p{Cs}/u
const WellFormedString = Schema.String.check(Schema.makeFilter((s: string) => !LONE_SURROGATE.test(s)))
export const ArtifactConfig = Schema.Struct({
  env: Schema.optionalKey(Schema.Record(EnvName, expecting(WellFormedString, "a string (quote numbers and booleans)"))),
  files: Schema.optionalKey(Schema.Record(FilePath, expecting(WellFormedString, "the file content as a string"))),
  signal: Schema.optionalKey(
    expecting(Schema.String.check(Schema.isPattern(/^SIG[A-Z0-9]+$/)), "a signal name like SIGHUP")
  )
})
export type ArtifactConfig = typeof ArtifactConfig.Type

export const ArtifactSpec = Schema.Struct({
  image: ImageRefFromString,
  /** Optional config-only change (environment, files, reload signal). */
  config: Schema.optionalKey(ArtifactConfig)
})
export type ArtifactSpec = typeof ArtifactSpec.Type

// ---------------------------------------------------------------------------------------------
// strategies
// ---------------------------------------------------------------------------------------------

export const RollingStrategy = Schema.Struct({
  batchSize: BatchSize,
  maxUnavailable: MaxUnavailable.pipe(withDefault(1)),
  maxSurge: MaxSurge.pipe(withDefault(0)),
  pauseBetweenWaves: Schema.optionalKey(DurationMs)
})
export type RollingStrategy = typeof RollingStrategy.Type

const CanaryStepFields = Schema.Struct({
  setWeight: Schema.optionalKey(Percent),
  pause: Schema.optionalKey(
    Schema.Struct({
      /** Absent: wait until resumed. */
      duration: Schema.optionalKey(DurationMs)
    })
  ),
  analysis: Schema.optionalKey(
    Schema.Struct({
      templates: Schema.NonEmptyArray(NonEmpty)
    })
  )
}).check(exactlyOneOf(rule("spec.strategy.canary.steps.*").what, rule("spec.strategy.canary.steps.*").keys))

const CanaryStepType = Schema.Union([
  Schema.Struct({ setWeight: Schema.Number }),
  Schema.Struct({ pause: Schema.Struct({ duration: Schema.optionalKey(Schema.Number) }) }),
  Schema.Struct({ analysis: Schema.Struct({ templates: Schema.NonEmptyArray(Schema.String) }) })
])
export type CanaryStep = typeof CanaryStepType.Type

const pickPresent = <T>(o: object): T => {
  const entry = Object.entries(o).find(([, v]) => v !== undefined)
  return (entry === undefined ? {} : { [entry[0]]: entry[1] }) as T
}

/** One of `{setWeight}`, `{pause: {duration?}}`, `{analysis: {templates}}`. */
export const CanaryStepSchema = CanaryStepFields.pipe(
  Schema.decodeTo(
    CanaryStepType,
    SchemaTransformation.transform({ decode: (o) => pickPresent<CanaryStep>(o), encode: (s) => s })
  )
)

const canaryStepsRules = Schema.makeFilter<ReadonlyArray<CanaryStep>>((steps) => {
  const issues: Array<Schema.FilterIssue> = []
  let previous: number | undefined
  let seenWave = false
  steps.forEach((step, i) => {
    if ("setWeight" in step) {
      if (previous !== undefined && step.setWeight <= previous) {
        issues.push({
          path: [i, "setWeight"],
          issue: new SchemaIssue.InvalidValue({
            message: `setWeight must increase from step to step: ${step.setWeight} is not above the previous ${previous}`
          })
        })
      }
      previous = step.setWeight
      if (step.setWeight > 0) seenWave = true
    } else if (!seenWave) {
      issues.push({
        path: [i],
        issue: new SchemaIssue.InvalidValue({
          message: `a ${"pause" in step ? "pause" : "analysis"} step must follow a setWeight step with a weight above 0`
        })
      })
    }
  })
  return issues
})

export const CanaryStrategy = Schema.Struct({
  steps: Schema.NonEmptyArray(CanaryStepSchema).check(canaryStepsRules),
  maxUnavailable: MaxUnavailable.pipe(withDefault(1)),
  /** How the targets not covered by the steps roll afterwards (default: one final wave). */
  rolling: Schema.optionalKey(
    Schema.Struct({
      batchSize: BatchSize,
      maxUnavailable: Schema.optionalKey(MaxUnavailable),
      pauseBetweenWaves: Schema.optionalKey(DurationMs)
    })
  )
})
export type CanaryStrategy = typeof CanaryStrategy.Type

export const BlueGreenStrategy = Schema.Struct({
  previewSize: BatchSize.pipe(withDefault(1)),
  autoPromote: Schema.Boolean.pipe(withDefault(false)),
  autoPromotionSeconds: Schema.optionalKey(NonNegativeInt),
  /** How many of a wave's targets may be updating at once (default 1). */
  maxUnavailable: MaxUnavailable.pipe(withDefault(1))
}).check(
  Schema.makeFilter((bg) =>
    bg.autoPromotionSeconds !== undefined && !bg.autoPromote
      ? {
          path: ["autoPromotionSeconds"],
          issue: new SchemaIssue.InvalidValue({ message: "autoPromotionSeconds requires autoPromote: true" })
        }
      : undefined
  )
)
export type BlueGreenStrategy = typeof BlueGreenStrategy.Type

/**
 * `{}` — an empty Struct accepts any non-null value (and ignores onExcessProperty), so the
 * emptiness and the object-ness are checked explicitly.
 */
export const RecreateStrategy = Schema.Struct({})
  .check(
    Schema.makeFilter((v: object, ast) => {
      if (typeof v !== "object" || Array.isArray(v))
        return new SchemaIssue.InvalidValue({ expected: "an empty mapping {}" })
      return Object.keys(v).map((k) => ({ path: [k], issue: new SchemaIssue.UnexpectedKey(ast, undefined) }))
    })
  )
  .annotate({ expected: "an empty mapping {}" })
export type RecreateStrategy = typeof RecreateStrategy.Type

export const PartitionStrategy = Schema.Struct({
  /** Ordinal thresholds: wave i updates targets whose ordinal is >= partitions[i]. */
  partitions: Schema.optionalKey(Schema.NonEmptyArray(NonNegativeInt).check(strictlyDecreasing("partitions"))),
  /** The same as percentages of the ordinal range (`"80%"` of 10 replicas = partition 8, rounded up). */
  steps: Schema.optionalKey(Schema.NonEmptyArray(PercentString).check(strictlyDecreasing("steps"))),
  maxUnavailable: MaxUnavailable.pipe(withDefault(1)),
  pauseBetweenWaves: Schema.optionalKey(DurationMs)
}).check(exactlyOneOf(rule("spec.strategy.partition").what, rule("spec.strategy.partition").keys))
export type PartitionStrategy = typeof PartitionStrategy.Type

const strategyRule = rule("spec.strategy")
const StrategyFields = Schema.Struct({
  rolling: Schema.optionalKey(RollingStrategy),
  canary: Schema.optionalKey(CanaryStrategy),
  blueGreen: Schema.optionalKey(BlueGreenStrategy),
  recreate: Schema.optionalKey(RecreateStrategy),
  partition: Schema.optionalKey(PartitionStrategy)
}).check(exactlyOneOf(strategyRule.what, strategyRule.keys))

const StrategyType = Schema.Union([
  Schema.Struct({ rolling: Schema.toType(RollingStrategy) }),
  Schema.Struct({ canary: Schema.toType(CanaryStrategy) }),
  Schema.Struct({ blueGreen: Schema.toType(BlueGreenStrategy) }),
  Schema.Struct({ recreate: Schema.toType(RecreateStrategy) }),
  Schema.Struct({ partition: Schema.toType(PartitionStrategy) })
])
/** Exactly one of the strategies, under its own key (`"canary" in strategy`). */
export type Strategy = typeof StrategyType.Type
export type StrategyKind = "rolling" | "canary" | "blueGreen" | "recreate" | "partition"

export const StrategySchema = StrategyFields.pipe(
  Schema.decodeTo(
    StrategyType,
    SchemaTransformation.transform({ decode: (o) => pickPresent<Strategy>(o), encode: (s) => s })
  )
)

export function strategyKind(strategy: Strategy): StrategyKind {
  if ("rolling" in strategy) return "rolling"
  if ("canary" in strategy) return "canary"
  if ("blueGreen" in strategy) return "blueGreen"
  if ("recreate" in strategy) return "recreate"
  return "partition"
}

// ---------------------------------------------------------------------------------------------
// topology, health, gates, rollback, concurrency
// ---------------------------------------------------------------------------------------------

/** How waves use the topology values: spread each wave across them (default), or one value after another. */
export const TopologyOrder = Schema.Literals(["spread", "sequential"]).annotate({
  expected: '"spread" (every wave spread across the values) or "sequential" (one value after another)'
})
export type TopologyOrder = typeof TopologyOrder.Type

/** Each repeat of an earlier element, as `[index, element]` (one pass with a Set: lists can be long). */
function repeats<A, K>(xs: ReadonlyArray<A>, keyOf: (x: A) => K): Array<readonly [number, A]> {
  const seen = new Set<K>()
  const out: Array<readonly [number, A]> = []
  xs.forEach((x, i) => {
    const k = keyOf(x)
    if (seen.has(k)) out.push([i, x])
    else seen.add(k)
  })
  return out
}

const uniqueValues = Schema.makeFilter<ReadonlyArray<string>>((xs) =>
  repeats(xs, (x) => x).map(([i, x]) => ({
    path: [i],
    issue: new SchemaIssue.InvalidValue({ message: `duplicate topology value "${x}"` })
  }))
)

const TopologyStruct = Schema.Struct({
  key: LabelKey,
  /** At most this share of one topology value's targets in one wave (default: the wave's share, rounded up). */
  maxSharePerWave: Schema.optionalKey(countOrPercent({ minCount: 1, minPercent: 1 })),
  /**
   * `spread` (absent = spread): every wave takes a share of every value. `sequential`: all of one
   * value's targets before the next value's, a wave never spans two values.
   */
  order: Schema.optionalKey(TopologyOrder),
  /** `sequential` only: these values first, in this order; the other values follow in sorted order. */
  values: Schema.optionalKey(Schema.Array(LabelValue).check(uniqueValues)),
  /**
   * A level above `key` (e.g. `sluice.dev/cluster`): the fleet is rolled group by group (groups in
   * sorted order, unlabelled targets first), `groupsAtOnce` groups at a time, each set of groups
   * planned with the whole strategy as if it were the fleet; `key` (and `order`) apply inside it.
   */
  groupBy: Schema.optionalKey(LabelKey),
  /** With `groupBy`: how many groups one set takes (default 1: one cluster after another). */
  groupsAtOnce: Schema.optionalKey(PositiveInt),
  /**
   * The failure budget: how many targets of one group (with `groupBy`; of the whole rollout without
   * it) may fail before the rollout fails. A target that fails within the budget is rolled back on
   * its own and the rollout goes on; the next failure past it fails the rollout and rolls back
   * everything, in every group. Default 0: the first failure does.
   */
  maxFailuresPerGroup: Schema.optionalKey(NonNegativeInt)
}).check(
  Schema.makeFilter((t) =>
    t.values !== undefined && t.order !== "sequential"
      ? {
          path: ["values"],
          issue: new SchemaIssue.InvalidValue({ message: "values is only allowed with order: sequential" })
        }
      : undefined
  ),
  Schema.makeFilter((t) =>
    t.groupsAtOnce !== undefined && t.groupBy === undefined
      ? {
          path: ["groupsAtOnce"],
          issue: new SchemaIssue.InvalidValue({ message: "groupsAtOnce is only allowed with groupBy" })
        }
      : t.groupBy !== undefined && t.groupBy === t.key
        ? {
            path: ["groupBy"],
            issue: new SchemaIssue.InvalidValue({
              message: "groupBy must be another label than key (a level above it)"
            })
          }
        : undefined
  )
)
/** `topology: zone` is shorthand for `topology: { key: zone }`. */
export const TopologySchema = Schema.Union([LabelKey, TopologyStruct])
  .pipe(
    Schema.decodeTo(
      Schema.toType(TopologyStruct),
      SchemaTransformation.transform({
        decode: (v) => (typeof v === "string" ? { key: v } : v),
        encode: (v) => v
      })
    )
  )
  .annotate({
    expected:
      "a label key, or { key, maxSharePerWave?, order?, values?, groupBy?, groupsAtOnce?, maxFailuresPerGroup? }"
  })
export type Topology = typeof TopologySchema.Type

const probeRule = rule("spec.health.probe")
export const Probe = Schema.Struct({
  http: Schema.optionalKey(
    Schema.Struct({
      port: Port,
      path: expecting(Schema.String.check(Schema.isPattern(/^\//)), "an absolute URL path like /healthz"),
      scheme: Schema.optionalKey(Schema.Literals(["HTTP", "HTTPS"]))
    })
  ),
  tcp: Schema.optionalKey(Schema.Struct({ port: Port })),
  exec: Schema.optionalKey(Schema.Struct({ command: Schema.NonEmptyArray(NonEmpty) })),
  initialDelay: DurationMs.pipe(withDefault("0s")),
  period: DurationMs.pipe(withDefault("5s")),
  successThreshold: PositiveInt.pipe(withDefault(1)),
  failureThreshold: PositiveInt.pipe(withDefault(3))
}).check(exactlyOneOf(probeRule.what, probeRule.keys))
export type Probe = typeof Probe.Type

export const HealthSpec = Schema.Struct({
  /** A wave that is not healthy within this time fails. */
  progressDeadline: DurationMs.pipe(withDefault("10m")),
  /** A target counts as healthy once it has been ready this long. */
  minReadySeconds: NonNegativeInt.pipe(withDefault(0)),
  probe: Schema.optionalKey(Probe)
})
export type HealthSpec = typeof HealthSpec.Type

const SuccessConditionText = expecting(
  Schema.String.check(
    Schema.makeFilter((s) => {
      const r = decodeSuccessCondition(s)
      return Result.isSuccess(r) ? undefined : `at column ${r.failure.column}: ${r.failure.message}`
    })
  ),
  'a condition like "result < 0.05" (result <op> number, joined by && or ||)'
)

const ARG_NAME = /^[a-z][a-z0-9_-]*$/
const ArgName = expecting(
  Schema.String.check(Schema.isPattern(ARG_NAME), Schema.isMaxLength(63)),
  "a name like `node` (lowercase letters, digits, '_' and '-', starting with a letter)"
)

/**
 * An argument of an analysis template, substituted for `{{args.<name>}}` in its queries: a fixed
 * `value`, or `fromLabel`, the value of a target's label, so one query reads each target's own series
 * (Argo Rollouts' `args`, with per-target values since Sluice measures agents, not a service).
 */
export const AnalysisArg = Schema.Struct({
  name: ArgName,
  value: Schema.optionalKey(Schema.String),
  fromLabel: Schema.optionalKey(LabelKey)
}).check(exactlyOneOf("argument source", ["value", "fromLabel"]))
export type AnalysisArg = typeof AnalysisArg.Type

const Fraction = expecting(
  Schema.Number.check(Schema.isGreaterThan(0), Schema.isLessThan(1)),
  "a number between 0 and 1 (exclusive), like 0.98"
)
const NonNegativeNumber = expecting(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)), "a number >= 0")
const Score = expecting(Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 100 })), "a score from 0 to 100")

/** One metric the canary judge compares: its query must give one number for one target. */
export const JudgeMetricSpec = Schema.Struct({
  name: DnsLabel,
  query: NonEmpty,
  direction: expecting(
    Schema.Literals(["increase", "decrease", "either"]),
    '"increase", "decrease" or "either" (the move that is bad)'
  ).pipe(withDefault("increase")),
  critical: Schema.Boolean.pipe(withDefault(false)),
  group: Schema.optionalKey(NonEmpty)
})
export type JudgeMetricSpec = typeof JudgeMetricSpec.Type

const uniqueMetricNames = Schema.makeFilter<ReadonlyArray<{ readonly name: string }>>((xs) =>
  repeats(xs, (x) => x.name).map(([i, x]) => ({
    path: [i, "name"],
    issue: new SchemaIssue.InvalidValue({ message: `duplicate metric name "${x.name}"` })
  }))
)

/**
 * The canary-versus-baseline judge (see `analysis/judge/`): per metric a Mann–Whitney U test of the
 * wave's updated targets against not-yet-updated targets in the same topology values.
 */
export const CanaryJudgeSpec = Schema.Struct({
  kind: Schema.Literal("canary"),
  metrics: Schema.NonEmptyArray(JudgeMetricSpec).check(uniqueMetricNames),
  confidence: Fraction.pipe(withDefault(0.98)),
  tolerance: NonNegativeNumber.pipe(withDefault(0.25)),
  thresholds: Schema.Struct({
    pass: Score.pipe(withDefault(95)),
    marginal: Score.pipe(withDefault(75))
  })
    .check(
      Schema.makeFilter((t) =>
        t.marginal > t.pass
          ? {
              path: ["marginal"],
              issue: new SchemaIssue.InvalidValue({
                message: `marginal (${t.marginal}) must not be above pass (${t.pass})`
              })
            }
          : undefined
      )
    )
    .pipe(withStructDefault),
  groupWeights: Schema.optionalKey(Schema.Record(NonEmpty, NonNegativeNumber))
})
export type CanaryJudgeSpec = typeof CanaryJudgeSpec.Type

/**
 * An analysis template, with Argo Rollouts' measurement semantics: `count` measurements
 * `interval` apart (after `initialDelay`), each Successful, Failed, Inconclusive or Error; the run
 * fails once more than `failureLimit` failed, more than `inconclusiveLimit` were inconclusive, or
 * more than `consecutiveErrorLimit` errors came in a row. A measurement is either a `query` against
 * `successCondition` (per target when an argument comes from a label) or a canary `judge`.
 */
export const AnalysisTemplate = Schema.Struct({
  name: DnsLabel,
  provider: Schema.Literals(["prometheus"]),
  address: expecting(Schema.String.check(Schema.isPattern(/^https?:\/\/[^\s/]+/)), "an http(s):// URL"),
  query: Schema.optionalKey(NonEmpty),
  successCondition: Schema.optionalKey(SuccessConditionText),
  judge: Schema.optionalKey(CanaryJudgeSpec),
  args: Schema.optionalKey(Schema.Array(AnalysisArg)),
  interval: Schema.optionalKey(DurationMs),
  initialDelay: Schema.optionalKey(DurationMs),
  count: Schema.optionalKey(PositiveInt),
  failureLimit: Schema.optionalKey(NonNegativeInt),
  inconclusiveLimit: Schema.optionalKey(NonNegativeInt),
  consecutiveErrorLimit: Schema.optionalKey(NonNegativeInt)
}).check(
  Schema.makeFilter((a) => {
    const issues: Array<{ path: ReadonlyArray<string>; issue: SchemaIssue.Issue }> = []
    const problem = (path: string, message: string) =>
      issues.push({ path: [path], issue: new SchemaIssue.InvalidValue({ message }) })
    if (a.judge === undefined) {
      if (a.query === undefined) problem("query", "an analysis needs a query and a successCondition, or a judge")
      if (a.successCondition === undefined)
        problem("successCondition", "an analysis needs a query and a successCondition, or a judge")
    } else {
      if (a.query !== undefined) problem("query", "a judge analysis has its queries in judge.metrics, not here")
      if (a.successCondition !== undefined)
        problem("successCondition", "a judge analysis decides by its judge, not by a successCondition")
    }
    const names = new Set((a.args ?? []).map((x) => x.name))
    const queries = a.judge === undefined ? [a.query ?? ""] : a.judge.metrics.map((m) => m.query)
    for (const q of queries) {
      for (const m of q.matchAll(/\{\{\s*args\.([^}\s]+)\s*\}\}/g)) {
        if (!names.has(m[1]!))
          problem(a.judge === undefined ? "query" : "judge", `{{args.${m[1]}}} names no argument in args`)
      }
    }
    return issues.length === 0 ? undefined : issues
  })
)
export type AnalysisTemplate = typeof AnalysisTemplate.Type

const uniqueNames = Schema.makeFilter<ReadonlyArray<{ readonly name: string }>>((xs) =>
  repeats(xs, (x) => x.name).map(([i, x]) => ({
    path: [i, "name"],
    issue: new SchemaIssue.InvalidValue({ message: `duplicate analysis name "${x.name}"` })
  }))
)

export const ManualApproval = Schema.Struct({
  before: expecting(
    Schema.Union([Schema.Literals(["none", "first", "every"]), Schema.Array(NonNegativeInt)]),
    '"none", "first", "every" or a list of wave indexes'
  ).pipe(withDefault("none"))
})
export type ManualApproval = typeof ManualApproval.Type

/**
 * Built-in policy profiles the policy gate adds to Sluice's own rules: the Kubernetes Pod Security
 * Standards' levels, as the apiserver's Pod Security admission enforces them (a pod template of a
 * Kubernetes target only).
 */
export const PolicyProfile = expecting(
  Schema.Literals(["pod-security/baseline", "pod-security/restricted"]),
  '"pod-security/baseline" or "pod-security/restricted"'
)
export type PolicyProfile = typeof PolicyProfile.Type

const DATE = /^\d{4}-\d{2}-\d{2}$/
/**
 * The built-in bundle's parameters (`data.sluice.params`), decoded strictly: an unknown or misspelt
 * parameter is an error with its path rather than a default silently kept. The scan gate's
 * `waiveMissingReport` and the Pod Security profiles have their own spec fields
 * (`gates.scan.waiveMissingReport`, `gates.policy.profiles`).
 */
export const BuiltinPolicyParams = Schema.Struct({
  limits: Schema.optionalKey(
    Schema.Struct({
      maxCpu: Schema.optionalKey(expecting(NonEmpty, 'a CPU quantity like "2" or "500m"')),
      maxMemory: Schema.optionalKey(expecting(NonEmpty, 'a memory quantity like "2Gi"'))
    })
  ),
  privileges: Schema.optionalKey(
    Schema.Struct({
      allowedCapabilities: Schema.optionalKey(Schema.Array(NonEmpty)),
      allowedHostPaths: Schema.optionalKey(
        Schema.Array(Schema.Struct({ path: NonEmpty, readOnly: Schema.optionalKey(Schema.Boolean) }))
      )
    })
  ),
  provenance: Schema.optionalKey(
    Schema.Struct({
      allowedRegistries: Schema.optionalKey(
        expecting(Schema.Array(NonEmpty), 'a list of registry prefixes like "registry.example.com/"')
      ),
      requireDigest: Schema.optionalKey(Schema.Literals(["deny", "warn", "off"]))
    })
  ),
  scan: Schema.optionalKey(
    Schema.Struct({
      severityThreshold: Schema.optionalKey(Schema.Literals(["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"])),
      ignoreUnfixed: Schema.optionalKey(Schema.Boolean),
      exceptions: Schema.optionalKey(
        Schema.Array(
          Schema.Struct({
            id: NonEmpty,
            expires: expecting(Schema.String.check(Schema.isPattern(DATE)), "a date YYYY-MM-DD")
          })
        )
      )
    })
  )
})
export type BuiltinPolicyParams = typeof BuiltinPolicyParams.Type

/**
 * Policy data deep-merged over every bundle's data, as `sluice policy eval --data` does: the
 * built-in bundle's parameters under `sluice.params` (strict), your bundles' data under their own
 * top-level keys (free JSON).
 */
export const PolicyData = Schema.StructWithRest(
  Schema.Struct({
    sluice: Schema.optionalKey(Schema.Struct({ params: Schema.optionalKey(BuiltinPolicyParams) }))
  }),
  [Schema.Record(Schema.String, Schema.Unknown)]
)
export type PolicyData = typeof PolicyData.Type

/**
 * A PEM `PUBLIC KEY` block, as `cosign generate-key-pair` writes `cosign.pub` (inline in the spec,
 * e.g. a YAML `|` block). Checked for its shape here; the verifier parses the key, and a key it
 * cannot read denies.
 */
const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\r?\n(?:[A-Za-z0-9+/=]+\r?\n)+-----END PUBLIC KEY-----\s*$/
export const PemPublicKey = expecting(
  Schema.String.check(Schema.isPattern(PEM_PUBLIC_KEY)),
  "a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----, as in cosign.pub)"
)

/** PEM `CERTIFICATE` blocks (one or more): the CA certificates a keyless signer's certificate must chain to. */
const PEM_CERTIFICATES =
  /^\s*(?:-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]+\r?\n)+-----END CERTIFICATE-----\s*)+$/
export const PemCertificates = expecting(
  Schema.String.check(Schema.isPattern(PEM_CERTIFICATES)),
  "PEM certificates (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----, one or more)"
)

/** A JavaScript regular expression that compiles (anchored by the verifier: the whole SAN must match). */
const SubjectRegExp = expecting(
  NonEmpty.check(
    Schema.makeFilter((s: string) => {
      try {
        new RegExp(s)
        return undefined
      } catch (e) {
        return `not a regular expression: ${e instanceof Error ? e.message : String(e)}`
      }
    })
  ),
  "a regular expression, e.g. https://ci\\.example\\.com/.+"
)

/**
 * A keyless signer: a certificate issued by one of `roots` to `subject` (exactly) or to a SAN
 * matching `subjectRegExp` (anchored), for the OIDC `issuer` (Kyverno's `keyless` attestor, without
 * Rekor or CT: see `KeylessIdentity` in the core's SignatureVerifier).
 */
export const KeylessSpec = Schema.Struct({
  issuer: NonEmpty,
  subject: Schema.optionalKey(NonEmpty),
  subjectRegExp: Schema.optionalKey(SubjectRegExp),
  roots: PemCertificates
}).check(exactlyOneOf(rule("spec.gates.signature.keyless").what, rule("spec.gates.signature.keyless").keys))
export type KeylessSpec = typeof KeylessSpec.Type

/**
 * The signature gate: the image's digest must carry a cosign signature that verifies against
 * `publicKey`, or one made with a certificate for the `keyless` identity, before any target is
 * touched. Off by default; on, it needs one of the two. Not both: Kyverno's attestor set requires
 * every entry to verify unless its `count` says fewer, and a gate with both would leave that choice
 * unsaid; one trust per gate keeps what a pass means plain.
 */
export const SignatureGateSpec = Schema.Struct({
  enabled: Schema.Boolean.pipe(withDefault(false)),
  publicKey: Schema.optionalKey(PemPublicKey),
  keyless: Schema.optionalKey(KeylessSpec)
}).check(
  Schema.makeFilter((g) =>
    g.publicKey !== undefined && g.keyless !== undefined
      ? {
          path: ["keyless"],
          issue: new SchemaIssue.InvalidValue({
            message:
              "publicKey and keyless are both given: the signature gate trusts one signer, a key or a certificate identity (drop one)"
          })
        }
      : g.enabled && g.publicKey === undefined && g.keyless === undefined
        ? {
            path: ["publicKey"],
            issue: new SchemaIssue.InvalidValue({
              message:
                "the signature gate is enabled: it needs the signer's publicKey (the PEM of cosign.pub) or a keyless identity (issuer, subject or subjectRegExp, roots)"
            })
          }
        : undefined
  )
)
export type SignatureGateSpec = typeof SignatureGateSpec.Type

export const Gates = Schema.Struct({
  policy: Schema.Struct({
    enabled: Schema.Boolean.pipe(withDefault(true)),
    bundles: Schema.optionalKey(Schema.Array(NonEmpty)),
    profiles: Schema.optionalKey(Schema.Array(PolicyProfile)),
    data: Schema.optionalKey(PolicyData),
    /** How long one evaluation may run; unset: the engine's default (5s). */
    evaluationTimeout: Schema.optionalKey(
      expecting(DurationMs.check(Schema.isGreaterThan(0)), 'a duration above zero like "5s"')
    )
  }).pipe(withStructDefault),
  scan: Schema.Struct({
    enabled: Schema.Boolean.pipe(withDefault(true)),
    reportsDir: Schema.optionalKey(NonEmpty),
    waiveMissingReport: Schema.Boolean.pipe(withDefault(false))
  }).pipe(withStructDefault),
  signature: SignatureGateSpec.pipe(withStructDefault),
  analysis: Schema.Array(AnalysisTemplate).check(uniqueNames).pipe(withDefault([])),
  manualApproval: ManualApproval.pipe(withStructDefault)
})
export type Gates = typeof Gates.Type

export const RollbackSpec = Schema.Struct({
  onFailure: Schema.Boolean.pipe(withDefault(true)),
  onAbort: Schema.Boolean.pipe(withDefault(true))
})
export type RollbackSpec = typeof RollbackSpec.Type

export const ConcurrencySpec = Schema.Struct({
  maxInFlight: Schema.optionalKey(PositiveInt)
})
export type ConcurrencySpec = typeof ConcurrencySpec.Type

const templatesDefined = Schema.makeFilter<{
  readonly strategy: Strategy
  readonly gates: { readonly analysis: ReadonlyArray<{ readonly name: string }> }
}>((spec) => {
  if (!("canary" in spec.strategy)) return undefined
  const defined = spec.gates.analysis.map((a) => a.name)
  const definedSet = new Set(defined)
  // Built once and shortened: one message per unknown reference, each naming every template,
  // grew as (references × templates) on large documents.
  const MAX_LISTED = 20
  const definedText =
    defined.length === 0
      ? "none"
      : defined.length <= MAX_LISTED
        ? defined.join(", ")
        : `${defined.slice(0, MAX_LISTED).join(", ")}, … (${defined.length} in all)`
  const issues: Array<Schema.FilterIssue> = []
  spec.strategy.canary.steps.forEach((step, i) => {
    if (!("analysis" in step)) return
    step.analysis.templates.forEach((name, j) => {
      if (!definedSet.has(name)) {
        issues.push({
          path: ["strategy", "canary", "steps", i, "analysis", "templates", j],
          issue: new SchemaIssue.InvalidValue({
            message: `unknown analysis template "${name}" (defined in spec.gates.analysis: ${definedText})`
          })
        })
      }
    })
  })
  return issues
})

/** `topology.order: sequential` works with rolling, canary and recreate; why not with the others. */
const SEQUENTIAL_UNSUPPORTED: Partial<Record<StrategyKind, string>> = {
  blueGreen: "blue-green promotes the whole fleet at once after one preview",
  partition: "partition waves follow ordinals, not topology values"
}

const sequentialTopologySupported = Schema.makeFilter<{
  readonly strategy: Strategy
  readonly topology?: { readonly order?: TopologyOrder }
}>((spec) => {
  if (spec.topology?.order !== "sequential") return undefined
  const kind = strategyKind(spec.strategy)
  const why = SEQUENTIAL_UNSUPPORTED[kind]
  return why === undefined
    ? undefined
    : {
        path: ["topology", "order"],
        issue: new SchemaIssue.InvalidValue({
          message: `sequential works with the rolling, canary and recreate strategies, not with ${kind}: ${why}`
        })
      }
})

export const RolloutSpecBody = Schema.Struct({
  target: TargetSpec,
  artifact: ArtifactSpec,
  strategy: StrategySchema,
  topology: Schema.optionalKey(TopologySchema),
  health: HealthSpec.pipe(withStructDefault),
  gates: Gates.pipe(withStructDefault),
  rollback: RollbackSpec.pipe(withStructDefault),
  concurrency: Schema.optionalKey(ConcurrencySpec)
}).check(templatesDefined, sequentialTopologySupported)
export type RolloutSpecBody = typeof RolloutSpecBody.Type

export const API_VERSION = "sluice.dev/v1alpha1"

/** The `Rollout` document: YAML/JSON on the outside, {@link RolloutSpec} once decoded. */
export const RolloutSpecSchema = Schema.Struct({
  apiVersion: Schema.Literal(API_VERSION),
  kind: Schema.Literal("Rollout"),
  metadata: Metadata,
  spec: RolloutSpecBody
}).annotate({ expected: "a Rollout document (a mapping with apiVersion, kind, metadata and spec)" })
export type RolloutSpec = typeof RolloutSpecSchema.Type
export type RolloutSpecEncoded = typeof RolloutSpecSchema.Encoded
