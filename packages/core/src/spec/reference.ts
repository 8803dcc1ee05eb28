import { Result, type SchemaAST as AST, SchemaAST } from "effect"
import { decodeRolloutSpec, encodeRolloutSpec } from "./decode.js"
import { EXACTLY_ONE_RULES, RolloutSpecSchema } from "./Rollout.js"

/**
 * The field reference of the `Rollout` document, generated from {@link RolloutSpecSchema}: every
 * field's path, what it accepts (the schema's own `expected` texts), whether it is required, and
 * its default (found by decoding minimal documents and encoding them back). Only the one-line
 * descriptions below are written by hand, and {@link referenceRows} refuses a field without one or
 * a description of a field the schema does not have, so the reference cannot drift from the schema.
 * `scripts/spec-reference.mjs` writes it to `docs/spec-reference.md`; a test compares.
 */

/** One line per field, keyed by its path (`[]` = every item of a list, `<key>` = every key of a mapping). */
export const FIELD_DESCRIPTIONS: Readonly<Record<string, string>> = {
  apiVersion: "The document's version.",
  kind: "The document's kind.",
  metadata: "The rollout's name and labels.",
  "metadata.name": "Names the rollout; rollout ids start with it.",
  "metadata.labels": "Free labels, kept with the rollout.",
  "metadata.labels.<key>": "A label.",
  spec: "What to roll out, where, how, and behind which gates.",
  "spec.target": "The targets: which adapter finds them, and which of its targets.",
  "spec.target.adapter": "`simulated`, `docker` or `kubernetes` (`--adapter` overrides it).",
  "spec.target.selector":
    "Adapter-specific, checked by the adapter's own schema (simulated: `matchLabels`; docker: `hosts`, `hostLabels`, `names`, `labels`, …; kubernetes: `namespace`, `kind`, `name` or `labelSelector`, `nodeSelector`, `container`, …).",
  "spec.target.selector.<key>": "An adapter selector field.",
  "spec.artifact": "The new version.",
  "spec.artifact.image": "The image every target ends up running.",
  "spec.artifact.config": "A configuration change rolled out with the image (or alone, with the same image).",
  "spec.artifact.config.env": "Environment variables (values are strings: quote numbers and booleans).",
  "spec.artifact.config.env.<key>": "An environment variable.",
  "spec.artifact.config.files": "Files written into the container, by absolute path.",
  "spec.artifact.config.files.<key>": "A file's content.",
  "spec.artifact.config.signal": "Sent to reload the configuration instead of restarting the container.",
  "spec.strategy": "Exactly one strategy: how the targets are cut into waves.",
  "spec.strategy.rolling": "Waves of a fixed size, one after another.",
  "spec.strategy.rolling.batchSize": "Targets per wave.",
  "spec.strategy.rolling.maxUnavailable": "At most this many targets updating (unavailable) at once.",
  "spec.strategy.rolling.maxSurge": "Extra targets the adapter may start beside the old ones.",
  "spec.strategy.rolling.pauseBetweenWaves": "Wait this long after a healthy wave before the next.",
  "spec.strategy.canary": "Waves that grow to given shares of the fleet, with pauses and analysis between them.",
  "spec.strategy.canary.steps": "In order; each `setWeight` is a wave up to that share of the fleet.",
  "spec.strategy.canary.steps[].setWeight": "Update targets until this percentage of the fleet runs the new version.",
  "spec.strategy.canary.steps[].pause": "Wait before the next step.",
  "spec.strategy.canary.steps[].pause.duration": "How long; without it, until `sluice resume` or `sluice promote`.",
  "spec.strategy.canary.steps[].analysis": "Run analysis templates against the updated targets.",
  "spec.strategy.canary.steps[].analysis.templates": "Names of templates in `spec.gates.analysis`.",
  "spec.strategy.canary.maxUnavailable": "At most this many targets updating at once during the steps.",
  "spec.strategy.canary.rolling": "How the targets left after the last step roll (default: one final wave).",
  "spec.strategy.canary.rolling.batchSize": "Targets per wave after the steps.",
  "spec.strategy.canary.rolling.maxUnavailable":
    "At most this many targets updating at once after the steps (default: the canary's).",
  "spec.strategy.canary.rolling.pauseBetweenWaves": "Wait this long after a healthy wave before the next.",
  "spec.strategy.blueGreen": "A preview set first, then everything else once promoted.",
  "spec.strategy.blueGreen.previewSize": "Targets in the preview wave.",
  "spec.strategy.blueGreen.autoPromote": "Promote without `sluice promote` once the preview is healthy.",
  "spec.strategy.blueGreen.autoPromotionSeconds": "With `autoPromote`: wait this many seconds first.",
  "spec.strategy.blueGreen.maxUnavailable": "At most this many of a wave's targets updating at once.",
  "spec.strategy.recreate": "Every target in one wave (`{}`: no parameters).",
  "spec.strategy.partition": "StatefulSet-style ordinal partitions: the highest ordinals first.",
  "spec.strategy.partition.partitions": "Wave i updates the targets whose ordinal is at least `partitions[i]`.",
  "spec.strategy.partition.steps": "The same as shares of the ordinal range (`80%` of 10 = partition 8).",
  "spec.strategy.partition.maxUnavailable": "At most this many targets updating at once.",
  "spec.strategy.partition.pauseBetweenWaves": "Wait this long after a healthy wave before the next.",
  "spec.topology":
    "Group targets by a label so waves spread over (or go through) its values; `zone` = `{ key: zone }`.",
  "spec.topology.key": "The label (a zone, a node pool, a host group).",
  "spec.topology.maxSharePerWave": "At most this share of one value's targets in one wave.",
  "spec.topology.order": "`spread`: every wave takes a share of every value; `sequential`: one value after another.",
  "spec.topology.values": "With `order: sequential`: these values first, in this order.",
  "spec.topology.groupBy":
    "A level above `key` (`sluice.dev/cluster` for the Kubernetes adapter's clusters): the fleet goes group by group (sorted; unlabelled first), each set of groups planned with the whole strategy as if it were the fleet, `key` inside it. One failure anywhere rolls back every group touched.",
  "spec.topology.groupsAtOnce": "With `groupBy`: groups per set (default 1: one group, e.g. one cluster, at a time).",
  "spec.topology.maxFailuresPerGroup":
    "The failure budget: how many targets of one group (with `groupBy`, e.g. per cluster; of the whole rollout without it) may fail, each rolled back on its own while the rollout goes on, before a failure fails the rollout and rolls back every group (default 0).",
  "spec.health": "When a target counts as healthy, and how long a wave may take.",
  "spec.health.progressDeadline":
    "A wave that makes no progress (no target becoming healthy) for this long fails (and rolls back), as in Kubernetes and Argo Rollouts; time with no process running the rollout does not count.",
  "spec.health.minReadySeconds": "A target counts as healthy once ready this many seconds.",
  "spec.health.probe": "A probe run by the adapter, beside the target's own readiness.",
  "spec.health.probe.http": "An HTTP GET; 2xx and 3xx are healthy.",
  "spec.health.probe.http.port": "The port.",
  "spec.health.probe.http.path": "The path.",
  "spec.health.probe.http.scheme": "`HTTP` or `HTTPS`.",
  "spec.health.probe.tcp": "A TCP connect.",
  "spec.health.probe.tcp.port": "The port.",
  "spec.health.probe.exec": "A command run in the container; exit 0 is healthy.",
  "spec.health.probe.exec.command": "The command and its arguments.",
  "spec.health.probe.initialDelay": "Wait this long after the update before the first probe.",
  "spec.health.probe.period": "Time between probes.",
  "spec.health.probe.successThreshold": "Consecutive successes for healthy.",
  "spec.health.probe.failureThreshold": "Consecutive failures for unhealthy.",
  "spec.gates": "What must pass before targets are touched, and between waves.",
  "spec.gates.policy": "The OPA policy gate on the workload as it will run.",
  "spec.gates.policy.enabled": "Evaluate the policies.",
  "spec.gates.policy.bundles": "Your OPA Wasm bundles, beside the built-in one (relative to the spec file).",
  "spec.gates.policy.profiles":
    "Built-in profiles the policy gate adds to Sluice's own rules: the Pod Security levels pod-security/baseline and pod-security/restricted (Kubernetes targets).",
  "spec.gates.policy.evaluationTimeout":
    'How long one policy evaluation may run (default "5s"); an evaluation still running then is stopped and denies (engine/timeout).',
  "spec.gates.policy.data":
    "Policy data deep-merged over every bundle's data, as `sluice policy eval --data` merges it (`--policy-data <file>` adds to it).",
  "spec.gates.policy.data.sluice": "The built-in bundle's data.",
  "spec.gates.policy.data.sluice.params": "The built-in policies' parameters, decoded strictly.",
  "spec.gates.policy.data.sluice.params.limits": "resource-limits: the largest limits a container may ask for.",
  "spec.gates.policy.data.sluice.params.limits.maxCpu": 'The largest CPU limit (default "2").',
  "spec.gates.policy.data.sluice.params.limits.maxMemory": 'The largest memory limit (default "2Gi").',
  "spec.gates.policy.data.sluice.params.privileges": "privileges: what an agent may still ask for.",
  "spec.gates.policy.data.sluice.params.privileges.allowedCapabilities":
    'Capabilities a container may add (default ["NET_BIND_SERVICE"]).',
  "spec.gates.policy.data.sluice.params.privileges.allowedHostPaths":
    "Host paths a pod may mount (default /var/log and /proc, read-only).",
  "spec.gates.policy.data.sluice.params.privileges.allowedHostPaths[].path": "The host path (and what lies under it).",
  "spec.gates.policy.data.sluice.params.privileges.allowedHostPaths[].readOnly": "Only read-only mounts of it.",
  "spec.gates.policy.data.sluice.params.provenance": "image-provenance: where images may come from.",
  "spec.gates.policy.data.sluice.params.provenance.allowedRegistries":
    "Registry prefixes images may come from (default registry.sluice.dev/, localhost:5000/, 127.0.0.1:5000/).",
  "spec.gates.policy.data.sluice.params.provenance.requireDigest":
    "An image without a digest: deny, warn (default) or off.",
  "spec.gates.policy.data.sluice.params.scan": "scan-gate: what a scan report may contain.",
  "spec.gates.policy.data.sluice.params.scan.severityThreshold":
    "Findings at this severity or above deny (default HIGH).",
  "spec.gates.policy.data.sluice.params.scan.ignoreUnfixed": "Findings without a fixed version do not count.",
  "spec.gates.policy.data.sluice.params.scan.exceptions": "Findings accepted until a date.",
  "spec.gates.policy.data.sluice.params.scan.exceptions[].id": "The finding (a CVE id).",
  "spec.gates.policy.data.sluice.params.scan.exceptions[].expires": "The last day it is accepted.",
  "spec.gates.policy.data.<key>": "Data for your own bundles, under their own top-level keys.",
  "spec.gates.scan": "The image scan gate (Trivy JSON reports).",
  "spec.gates.scan.enabled": "Require a scan report within the policy's severity threshold.",
  "spec.gates.scan.reportsDir": "Where the reports are (relative to the spec file).",
  "spec.gates.scan.waiveMissingReport": "Let an image without a report pass (with a warning).",
  "spec.gates.signature": "The image signature gate (cosign signatures in the image's registry).",
  "spec.gates.signature.enabled":
    "Require a signature of the artifact's digest, by `publicKey` or by the `keyless` identity, before any target is touched.",
  "spec.gates.signature.publicKey": "The signer's public key: the PEM of `cosign.pub`, inline (not with `keyless`).",
  "spec.gates.signature.keyless":
    "A certificate identity instead of a key (cosign `sign --certificate`): the certificate is checked at verification time, without Rekor or CT.",
  "spec.gates.signature.keyless.issuer":
    "The OIDC issuer the certificate must carry (Fulcio extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1), exactly.",
  "spec.gates.signature.keyless.subject": "The certificate's SAN (email or URI), exactly.",
  "spec.gates.signature.keyless.subjectRegExp":
    "A regular expression (JavaScript) the whole SAN must match: anchored at both ends.",
  "spec.gates.signature.keyless.roots":
    "The trusted CA certificate(s), PEM inline: the certificate must chain to one (intermediates from the signature's chain).",
  "spec.gates.analysis": "Analysis templates that canary `analysis` steps name.",
  "spec.gates.analysis[].name": "The template's name.",
  "spec.gates.analysis[].provider": "Where the metric comes from.",
  "spec.gates.analysis[].address": "The Prometheus server.",
  "spec.gates.analysis[].query":
    "A PromQL query returning one number (with `{{args.<name>}}` from a label: one per wave target, each must pass).",
  "spec.gates.analysis[].successCondition": "Passes when this holds for the query's result.",
  "spec.gates.analysis[].judge":
    "Judge the wave's targets against not-yet-updated ones instead (`query` and `successCondition` then stay out).",
  "spec.gates.analysis[].judge.kind": "`canary`: a Mann–Whitney U test per metric, canary against baseline.",
  "spec.gates.analysis[].judge.metrics": "The metrics compared.",
  "spec.gates.analysis[].judge.metrics[].name": "The metric's name in the judgement.",
  "spec.gates.analysis[].judge.metrics[].query":
    "PromQL giving one number for one target: `{{target}}` is its id, `{{args.<name>}}` an argument.",
  "spec.gates.analysis[].judge.metrics[].direction": "Which move of the canary against the baseline is bad.",
  "spec.gates.analysis[].judge.metrics[].critical": "A failure of this metric fails the judgement whatever the score.",
  "spec.gates.analysis[].judge.metrics[].group": "The group it scores in (its own name when absent).",
  "spec.gates.analysis[].judge.confidence": "Confidence level of the two-sided test.",
  "spec.gates.analysis[].judge.tolerance":
    "A significant shift within this share of the baseline's median still passes.",
  "spec.gates.analysis[].judge.thresholds": "Scores (0–100) that pass, and that are marginal (inconclusive).",
  "spec.gates.analysis[].judge.thresholds.pass": "At or above: the measurement is Successful.",
  "spec.gates.analysis[].judge.thresholds.marginal": "At or above (and below `pass`): Inconclusive; below: Failed.",
  "spec.gates.analysis[].judge.groupWeights": "Weight per metric group in the score (a group not listed weighs 1).",
  "spec.gates.analysis[].judge.groupWeights.<key>": "A group's weight.",
  "spec.gates.analysis[].args": "Arguments substituted for `{{args.<name>}}` in the queries.",
  "spec.gates.analysis[].args[].name": "The argument's name.",
  "spec.gates.analysis[].args[].value": "A fixed value.",
  "spec.gates.analysis[].args[].fromLabel": "The value of this label on each target, per target.",
  "spec.gates.analysis[].interval": "Time between measurements.",
  "spec.gates.analysis[].initialDelay": "Time to wait after the wave is healthy before the first measurement.",
  "spec.gates.analysis[].count": "Measurements that answered (an Error measurement does not count) (default 1).",
  "spec.gates.analysis[].failureLimit": "The run fails once more measurements failed than this (default 0).",
  "spec.gates.analysis[].inconclusiveLimit":
    "The run is inconclusive (the wave fails) once more measurements were inconclusive than this (default 0).",
  "spec.gates.analysis[].consecutiveErrorLimit":
    "The run errs (the wave fails) once more measurements in a row could not be taken than this (default 4).",
  "spec.gates.manualApproval": "Waves that wait for `sluice approve`.",
  "spec.gates.manualApproval.before": "Before which waves (numbered from 0 as in `sluice plan`).",
  "spec.rollback": "What happens to the touched targets when a rollout does not complete.",
  "spec.rollback.onFailure": "Roll every touched target back when a wave fails.",
  "spec.rollback.onAbort": "Roll every touched target back on `sluice abort`.",
  "spec.concurrency": "Limits on adapter calls.",
  "spec.concurrency.maxInFlight": "At most this many adapter calls at once."
}

/** One field of the reference. */
export interface ReferenceRow {
  readonly path: string
  /** What the field accepts, in the words of the schema's `expected` annotations. */
  readonly accepts: string
  /** `required`, `optional`, or `default: <value as written in a document>`. */
  readonly presence: string
  readonly description: string
}

const lastLink = (ast: AST.AST): AST.AST | undefined =>
  ast.encoding === undefined ? undefined : ast.encoding[ast.encoding.length - 1]!.to

const expectedOf = (ast: AST.AST): string | undefined => {
  const own = ast.annotations?.expected
  if (typeof own === "string") return own
  const fromChecks = (ast.checks ?? [])
    .map((c) => c.annotations?.expected)
    .filter((e): e is string => typeof e === "string")
  return fromChecks.at(-1)
}

/** The object shapes a field's value may take, on the document side. */
const objectsOf = (ast: AST.AST): ReadonlyArray<AST.Objects> => {
  const from = lastLink(ast)
  // A struct decoded with a default keeps its own fields (and their annotations) on the type side;
  // any other encoding (an image string decoded into a struct, a shorthand) is followed.
  if (ast._tag === "Objects" && (from === undefined || from._tag === "Objects")) return [ast]
  if (from !== undefined) return objectsOf(from)
  if (ast._tag === "Union") return ast.types.flatMap(objectsOf)
  return []
}

const arrayOf = (ast: AST.AST): AST.Arrays | undefined => {
  if (ast._tag === "Arrays") return ast
  const from = lastLink(ast)
  return from === undefined ? undefined : arrayOf(from)
}

const literalText = (ast: AST.AST): string | undefined => {
  if (ast._tag === "Literal") return JSON.stringify(ast.literal)
  if (ast._tag === "Union") {
    const parts = ast.types.map(literalText)
    return parts.every((p) => p !== undefined) ? parts.join(" | ") : undefined
  }
  return undefined
}

/** What a value accepts: the schema's own words where it has them, else its shape. */
const acceptsOf = (ast: AST.AST): string => {
  const expected = expectedOf(ast) ?? expectedOf(SchemaAST.toEncoded(ast))
  if (expected !== undefined) return expected
  const literal = literalText(SchemaAST.toEncoded(ast))
  if (literal !== undefined) return literal
  const array = arrayOf(ast)
  if (array !== undefined) {
    const item = array.rest[0] ?? array.elements[0]
    const min = array.elements.length > 0 ? "a non-empty list" : "a list"
    return item === undefined ? min : `${min}, each ${objectsOf(item).length > 0 ? "a mapping" : acceptsOf(item)}`
  }
  const encoded = SchemaAST.toEncoded(ast)
  if (encoded._tag === "Boolean") return "true or false"
  if (encoded._tag === "String") return "a string"
  if (objectsOf(ast).length > 0) return "a mapping"
  if (encoded._tag === "Unknown") return "any value"
  return encoded._tag
}

/** Whether a document may leave the field out: optional on the type side or anywhere on its way to the document. */
const isOptional = (ast: AST.AST): boolean =>
  ast.context?.isOptional === true ||
  SchemaAST.toEncoded(ast).context?.isOptional === true ||
  (ast.encoding ?? []).some((link) => isOptional(link.to))

interface Field {
  readonly path: string
  readonly ast: AST.AST
  readonly optional: boolean
}

const fieldsOf = (ast: AST.AST, prefix: string): Array<Field> => {
  const out: Array<Field> = []
  const join = (name: string) => (prefix === "" ? name : `${prefix}.${name}`)
  for (const objects of objectsOf(ast)) {
    for (const ps of objects.propertySignatures) {
      const path = join(String(ps.name))
      out.push({ path, ast: ps.type, optional: isOptional(ps.type) })
      out.push(...fieldsOf(ps.type, path))
      const array = arrayOf(ps.type)
      const item = array === undefined ? undefined : (array.rest[0] ?? array.elements[0])
      if (item !== undefined) out.push(...fieldsOf(item, `${path}[]`))
    }
    for (const index of objects.indexSignatures) {
      out.push({ path: join("<key>"), ast: index.type, optional: true })
    }
  }
  return out
}

/**
 * Minimal documents, one per strategy (and with a probe): decoded, then encoded back, they show
 * every default as a document would write it.
 */
const MINIMAL_SPECS: ReadonlyArray<Record<string, unknown>> = [
  { rolling: { batchSize: 1 } },
  { canary: { steps: [{ setWeight: 10 }], rolling: { batchSize: 1 } } },
  { blueGreen: {} },
  { recreate: {} },
  { partition: { partitions: [0] } }
].map((strategy) => ({
  apiVersion: "sluice.dev/v1alpha1",
  kind: "Rollout",
  metadata: { name: "x" },
  spec: {
    target: { adapter: "simulated" },
    artifact: { image: "registry.example/x:1" },
    strategy,
    health: { probe: { tcp: { port: 1 } } },
    // A minimal canary judge, so the judge's defaults show too.
    gates: {
      analysis: [
        {
          name: "x",
          provider: "prometheus",
          address: "http://prometheus:9090",
          judge: { kind: "canary", metrics: [{ name: "x", query: "x" }] }
        }
      ]
    }
  }
}))

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The value at a path of the minimal document (`[]` = the first item), when the document has it. */
const valueAt = (doc: unknown, path: string): { readonly value: unknown } | undefined => {
  let here: unknown = doc
  for (const part of path.split(".")) {
    const list = part.endsWith("[]")
    const key = list ? part.slice(0, -2) : part
    if (!isRecord(here) || !Object.hasOwn(here, key)) return undefined
    here = here[key]
    if (list) {
      if (!Array.isArray(here) || here.length === 0) return undefined
      here = here[0]
    }
  }
  return { value: here }
}

/**
 * The fields a document may leave out that decode to a value anyway: absent from a minimal
 * document, present once it is decoded and encoded back. A mapping's default is its fields' own.
 */
const defaults = (fields: ReadonlyArray<Field>): Map<string, { readonly value: unknown } | "mapping"> => {
  const out = new Map<string, { readonly value: unknown } | "mapping">()
  const docs = MINIMAL_SPECS.map((doc) => {
    const decoded = decodeRolloutSpec(doc)
    if (Result.isFailure(decoded))
      throw new Error(`a minimal spec does not decode: ${decoded.failure.problems.map((p) => p.message).join("; ")}`)
    const encoded = encodeRolloutSpec(decoded.success)
    if (Result.isFailure(encoded)) throw new Error("a minimal spec does not encode")
    return { given: doc, encoded: encoded.success }
  })
  for (const field of fields) {
    if (field.path.includes("<key>")) continue
    for (const { given, encoded } of docs) {
      const found = valueAt(encoded, field.path)
      if (found !== undefined && valueAt(given, field.path) === undefined) {
        out.set(field.path, isRecord(found.value) ? "mapping" : found)
        break
      }
    }
  }
  return out
}

/** The reference's rows, in the schema's order. Throws when a description is missing or stale. */
export const referenceRows = (): ReadonlyArray<ReferenceRow> => {
  const fields = fieldsOf(RolloutSpecSchema.ast, "")
  const paths = new Set(fields.map((f) => f.path))
  const undescribed = fields.filter((f) => FIELD_DESCRIPTIONS[f.path] === undefined).map((f) => f.path)
  const stale = Object.keys(FIELD_DESCRIPTIONS).filter((p) => !paths.has(p))
  if (undescribed.length > 0 || stale.length > 0) {
    throw new Error(
      [
        undescribed.length > 0 ? `fields without a description: ${undescribed.join(", ")}` : "",
        stale.length > 0 ? `descriptions of fields the schema does not have: ${stale.join(", ")}` : ""
      ]
        .filter((s) => s !== "")
        .join("; ")
    )
  }
  const byDefault = defaults(fields)
  const presence = (f: Field): string => {
    const found = byDefault.get(f.path)
    if (found === "mapping") return "optional"
    if (found !== undefined) return `default: \`${JSON.stringify(found.value)}\``
    return f.optional ? "optional" : "required"
  }
  return fields.map((f) => ({
    path: f.path,
    accepts: acceptsOf(f.ast),
    presence: presence(f),
    description: FIELD_DESCRIPTIONS[f.path]!
  }))
}

/** The Markdown page (`docs/spec-reference.md`). */
export const renderSpecReference = (): string => {
  const rows = referenceRows()
  const exactlyOne = EXACTLY_ONE_RULES.map(
    (r) =>
      `- \`${r.path.join(".").replaceAll(".*", "[]")}\`: exactly one of ${r.keys.map((k) => `\`${k}\``).join(", ")}.`
  )
  return [
    "# The `Rollout` spec: field reference",
    "",
    "<!-- Generated from packages/core/src/spec/Rollout.ts by `npm run docs:spec` (scripts/spec-reference.mjs); do not edit. A test fails when this file differs from what the schema generates. -->",
    "",
    "Every field of a `Rollout` document (YAML or JSON). `[]` is every item of a list, `<key>` every key of",
    "a mapping. A field not listed here is an error (with its path and a did-you-mean). Durations are",
    'Go-style (`90s`, `10m`, `1h30m`, `500ms`); counts or percentages are `5` or `"25%"`.',
    "",
    "Exactly-one rules:",
    "",
    ...exactlyOne,
    "",
    ...rows.map((r) => `- \`${r.path}\` (${r.presence}): ${r.description} Accepts ${r.accepts}.`),
    ""
  ].join("\n")
}
