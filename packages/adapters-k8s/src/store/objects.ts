import { createHash } from "node:crypto"
import type { V1ConfigMap } from "@kubernetes/client-node"
import { formatSpecProblem, issueToProblems } from "@sluice/core"
import { Result, Schema, type SchemaIssue } from "effect"

/**
 * The objects the Kubernetes store keeps, their names and their schemas. Every object is decoded
 * strictly (an unknown key is a problem with its path); a bad one is reported by its name.
 */

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "sluice" } as const
/** Every object of one rollout carries it (the rollout's {@link baseName}). */
export const ROLLOUT_LABEL = "sluice.dev/rollout"
/** Which part of the rollout an object is: head, header, journal, snapshot, control, quarantined. */
export const PART_LABEL = "sluice.dev/part"
/** The rollout id itself (ids are longer than a label value may be, and may hold `_`). */
export const ROLLOUT_ID_ANNOTATION = "sluice.dev/rollout-id"

export type Part = "head" | "header" | "journal" | "snapshot" | "control" | "quarantined"

/** The store's rollout ids: what the file store accepts (it names directories with them). */
export const ROLLOUT_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

/**
 * The part of every object name (and the label value) that says which rollout it belongs to: the
 * id itself when it is a short DNS label (so `kubectl get cm` reads well), else `x` and a hash of
 * it. A hashed base could in theory equal another rollout's literal id: the head's annotation
 * names the id, and a mismatch is an error, never another rollout's journal.
 */
export const baseName = (rolloutId: string): string =>
  rolloutId.length <= 40 && DNS_LABEL.test(rolloutId)
    ? rolloutId
    : `x${createHash("sha256").update(rolloutId).digest("hex").slice(0, 32)}`

export const headName = (rolloutId: string) => `sluice-${baseName(rolloutId)}`
export const leaseName = (rolloutId: string) => `sluice-${baseName(rolloutId)}`
/** Chunks and segments carry the writer's nonce: two writers (a stale one) never share a name. */
export const chunkName = (rolloutId: string, kind: "h" | "j" | "s", nonce: string, index: number) =>
  `sluice-${baseName(rolloutId)}-${kind}-${nonce}-${index}`
export const controlPrefix = (rolloutId: string) => `sluice-${baseName(rolloutId)}-c-`

export const labelsOf = (rolloutId: string, part: Part) => ({
  ...MANAGED_BY,
  [ROLLOUT_LABEL]: baseName(rolloutId),
  [PART_LABEL]: part
})
export const selectorOf = (rolloutId: string, part: Part) =>
  `app.kubernetes.io/managed-by=sluice,${ROLLOUT_LABEL}=${baseName(rolloutId)},${PART_LABEL}=${part}`

/** The data key of each kind of object. */
export const KEY = {
  header: "header.json",
  journal: "journal.ndjson",
  snapshot: "snapshot.json",
  control: "control.json",
  head: "head.json",
  tail: "tail.ndjson"
} as const

/**
 * What the head says: where the header, the sealed journal segments and the snapshot are, how many
 * entries the journal holds, and the fence, the lease generation and holder allowed to write.
 */
export const HeadJson = Schema.Struct({
  version: Schema.Literal(1),
  rolloutId: Schema.String,
  /** The header's chunks, in order (immutable ConfigMaps). */
  header: Schema.Array(Schema.String),
  /** The sealed journal segments, in order (immutable ConfigMaps); the tail follows them. */
  segments: Schema.Array(Schema.String),
  /** Entries in the segments and the tail together. */
  entries: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  /** The latest snapshot's chunks, in order. */
  snapshot: Schema.optionalKey(Schema.Array(Schema.String)),
  fence: Schema.optionalKey(
    Schema.Struct({ holder: Schema.String, generation: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)) })
  )
})
export type HeadJson = typeof HeadJson.Type

const HeadData = Schema.Struct({ [KEY.head]: Schema.String, [KEY.tail]: Schema.String })
const dataOf = (key: string) => Schema.Struct({ [key]: Schema.String })

/** The parts of a Lease the store reads (the apiserver may add fields: they are left alone). */
export const LeaseSpec = Schema.Struct({
  holderIdentity: Schema.optionalKey(Schema.String),
  leaseDurationSeconds: Schema.optionalKey(Schema.Int),
  leaseTransitions: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  // A MicroTime: client-node hands it over as a Date or as the RFC 3339 text it received.
  renewTime: Schema.optionalKey(Schema.Union([Schema.Date, Schema.String])),
  acquireTime: Schema.optionalKey(Schema.Union([Schema.Date, Schema.String]))
})

/** A lease time in epoch milliseconds; undefined when absent or not a time. */
export const timeOf = (t: Date | string | undefined): number | undefined => {
  if (t === undefined) return undefined
  const ms = (typeof t === "string" ? new Date(t) : t).getTime()
  return Number.isNaN(ms) ? undefined : ms
}

const strict = { errors: "all", onExcessProperty: "error" } as const
const loose = { errors: "all", onExcessProperty: "ignore" } as const

/** Decodes a value; a failure is one line listing every problem with its path. */
export const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  value: unknown,
  options: "strict" | "loose" = "strict"
): Result.Result<S["Type"], string> => {
  const decoded = Schema.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], unknown>, {
    ...(options === "strict" ? strict : loose)
  })(value) as Result.Result<S["Type"], { readonly issue: SchemaIssue.Issue }>
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  return Result.fail(
    issueToProblems(decoded.failure.issue, value)
      .map((p) => formatSpecProblem(p.path === "" ? { ...p, path: "$" } : p))
      .join("; ")
  )
}

/** JSON text, then a decoder; a failure says which. */
export const parseWith = <A>(text: string, check: (value: unknown) => Result.Result<A, string>) => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return Result.fail(text.trim() === "" ? "empty" : `not JSON (${(e as Error).message})`)
  }
  return check(value)
}

/** A ConfigMap's `data` as one expected key; anything else (binaryData, another key) is a problem. */
export const dataKey = (cm: V1ConfigMap, key: string): Result.Result<string, string> => {
  if (cm.binaryData !== undefined && Object.keys(cm.binaryData).length > 0)
    return Result.fail(`binaryData: expected none, got ${Object.keys(cm.binaryData).join(", ")}`)
  const decoded = decode(dataOf(key), cm.data ?? {})
  return Result.isSuccess(decoded) ? Result.succeed(decoded.success[key] as string) : Result.fail(decoded.failure)
}

export interface HeadState {
  readonly head: HeadJson
  readonly tail: string
  readonly resourceVersion: string
}

/** A head ConfigMap: its data, its head.json, the rollout id its annotation names. */
export const decodeHead = (rolloutId: string, cm: V1ConfigMap): Result.Result<HeadState, string> => {
  if (cm.binaryData !== undefined && Object.keys(cm.binaryData).length > 0)
    return Result.fail(`binaryData: expected none, got ${Object.keys(cm.binaryData).join(", ")}`)
  const data = decode(HeadData, cm.data ?? {})
  if (Result.isFailure(data)) return Result.fail(`data: ${data.failure}`)
  const head = parseWith(data.success[KEY.head] as string, (v) => decode(HeadJson, v))
  if (Result.isFailure(head)) return Result.fail(`${KEY.head}: ${head.failure}`)
  if (head.success.rolloutId !== rolloutId)
    return Result.fail(`${KEY.head}: rolloutId: names rollout "${head.success.rolloutId}", not "${rolloutId}"`)
  const tail = data.success[KEY.tail] as string
  if (tail !== "" && !tail.endsWith("\n")) return Result.fail(`${KEY.tail}: does not end on a whole line`)
  const resourceVersion = cm.metadata?.resourceVersion
  if (resourceVersion === undefined) return Result.fail("metadata.resourceVersion: missing")
  return Result.succeed({ head: head.success, tail, resourceVersion })
}

/** A head ConfigMap to write. */
export const headObject = (
  namespace: string,
  rolloutId: string,
  state: { readonly head: HeadJson; readonly tail: string },
  resourceVersion?: string
): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: headName(rolloutId),
    namespace,
    labels: labelsOf(rolloutId, "head"),
    annotations: { [ROLLOUT_ID_ANNOTATION]: rolloutId },
    ...(resourceVersion === undefined ? {} : { resourceVersion })
  },
  data: { [KEY.head]: JSON.stringify(state.head), [KEY.tail]: state.tail }
})

/** An immutable chunk (header, journal segment, snapshot): written once, never changed. */
export const chunkObject = (
  namespace: string,
  rolloutId: string,
  name: string,
  part: "header" | "journal" | "snapshot",
  key: string,
  text: string
): V1ConfigMap => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name,
    namespace,
    labels: labelsOf(rolloutId, part),
    annotations: { [ROLLOUT_ID_ANNOTATION]: rolloutId }
  },
  immutable: true,
  data: { [key]: text }
})

/**
 * Splits text into pieces of at most `maxBytes` bytes of UTF-8, each cut on a character boundary
 * (a ConfigMap's data is UTF-8 text: half a character would not be stored).
 */
export const splitUtf8 = (text: string, maxBytes: number): Array<string> => {
  const bytes = Buffer.from(text, "utf8")
  const out: Array<string> = []
  let start = 0
  while (bytes.length - start > maxBytes) {
    let cut = start + maxBytes
    while (cut > start && ((bytes[cut] as number) & 0xc0) === 0x80) cut--
    out.push(bytes.subarray(start, cut).toString("utf8"))
    start = cut
  }
  out.push(bytes.subarray(start).toString("utf8"))
  return out
}
