import { Result, Schema, type SchemaIssue } from "effect"
import { Revision } from "../domain/Target.js"
import { formatSpecProblem, issueToProblems } from "../spec/SpecError.js"

/**
 * The schemas every file of the file store is decoded with (strictly: an unknown field is a problem
 * with its path). The parts other modules own — the plan, the configuration, the machine's input,
 * snapshot and commands, each event's and command's fields — are checked as JSON objects here and
 * typed by their owners; the store's own framing (which files, which fields, which kinds of
 * entries) is checked exactly.
 */
const JsonObject = Schema.Record(Schema.String, Schema.Unknown)

/** An object with a string tag (an event's `type`, a command's `kind`) and fields owned elsewhere. */
const Tagged = (tag: "type" | "kind") =>
  Schema.StructWithRest(Schema.Struct({ [tag]: Schema.String }), [Schema.Record(Schema.String, Schema.Unknown)])

export const ControlSignalSchema = Schema.Literals(["PAUSE", "RESUME", "ABORT", "APPROVE", "PROMOTE", "PROMOTE_FULL"])

/** A control id names its inbox file: letters, digits, `.`, `_`, `-`. */
export const CONTROL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export const ControlRequestFile = Schema.Struct({
  id: Schema.String.check(Schema.isPattern(CONTROL_ID)),
  signal: ControlSignalSchema,
  at: Schema.Number,
  reason: Schema.optionalKey(Schema.String)
})

/** The header; `previous` (one revision per target) is checked by {@link decodeHeader}. */
export const HeaderFile = Schema.Struct({
  rolloutId: Schema.String,
  createdAt: Schema.Number,
  spec: Schema.Unknown,
  image: Schema.String,
  adapter: Schema.String,
  config: JsonObject,
  machineInput: JsonObject,
  plan: JsonObject,
  previous: Schema.Unknown
})

export const JournalLine = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("event"), at: Schema.Number, event: Tagged("type") }),
  Schema.Struct({
    kind: Schema.Literal("intent"),
    at: Schema.Number,
    command: Tagged("kind"),
    dueAt: Schema.optionalKey(Schema.Number)
  }),
  Schema.Struct({ kind: Schema.Literal("applied"), at: Schema.Number, targetId: Schema.String, revision: Revision }),
  Schema.Struct({
    kind: Schema.Literal("control"),
    at: Schema.Number,
    request: ControlRequestFile,
    ignored: Schema.optionalKey(Schema.String)
  })
])

export const SnapshotFile = Schema.Struct({
  seq: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  machine: Schema.Struct({ value: Schema.Unknown, context: Schema.Unknown }),
  commands: Schema.optionalKey(Schema.Array(Tagged("kind")))
})

const options = { errors: "all", onExcessProperty: "error" } as const

// --- fast paths ------------------------------------------------------------------------------
// A fleet's files hold one revision per target and one journal line per outcome: 100,000 of them
// cost seconds through Schema's general decoder. These guards accept only values the schemas
// accept (a property test holds them to it) and are checked first; anything they do not accept
// goes through the schema, which accepts it or says what is wrong with its path.

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const onlyKeys = (v: Record<string, unknown>, allowed: ReadonlySet<string>) => {
  for (const k in v) if (!allowed.has(k)) return false
  return true
}
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)

const REVISION_KEYS = new Set(["image", "configHash", "data"])
/** A value {@link Revision} accepts (not every one: the others go through the schema). */
export const fastRevision = (v: unknown): boolean =>
  isObject(v) &&
  typeof v.image === "string" &&
  (v.configHash === undefined || typeof v.configHash === "string") &&
  onlyKeys(v, REVISION_KEYS)

const LINE_KEYS = {
  event: new Set(["kind", "at", "event"]),
  intent: new Set(["kind", "at", "command", "dueAt"]),
  applied: new Set(["kind", "at", "targetId", "revision"])
} as const
/** A value {@link JournalLine} accepts (not every one: the others go through the schema). */
export const fastJournalLine = (v: unknown): boolean => {
  if (!isObject(v) || !isFiniteNumber(v.at)) return false
  switch (v.kind) {
    case "event":
      return isObject(v.event) && typeof v.event.type === "string" && onlyKeys(v, LINE_KEYS.event)
    case "intent":
      return (
        isObject(v.command) &&
        typeof v.command.kind === "string" &&
        (v.dueAt === undefined || isFiniteNumber(v.dueAt)) &&
        onlyKeys(v, LINE_KEYS.intent)
      )
    case "applied":
      return typeof v.targetId === "string" && fastRevision(v.revision) && onlyKeys(v, LINE_KEYS.applied)
    default:
      return false
  }
}

/**
 * Parses and decodes one stored JSON document; a failure is one line listing every problem with
 * its path (`$` for the document itself).
 */
export const decodeJson = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  text: string
): Result.Result<S["Type"], string> => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return Result.fail(text.trim() === "" ? "empty" : `not JSON (${(e as Error).message})`)
  }
  return decodeValue(schema, value)
}

/** One decoder per schema (building it costs more than a small value's decoding). */
const decoders = new WeakMap<object, (value: unknown) => Result.Result<unknown, { readonly issue: never }>>()
const decoderOf = (schema: Schema.Top) => {
  let d = decoders.get(schema)
  if (d === undefined) {
    d = Schema.decodeUnknownResult(schema as unknown as Schema.Codec<unknown, unknown>, options) as never
    decoders.set(schema, d!)
  }
  return d!
}

export const decodeValue = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  value: unknown
): Result.Result<S["Type"], string> => {
  const decoded = decoderOf(schema)(value) as Result.Result<S["Type"], { readonly issue: SchemaIssue.Issue }>
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const problems = issueToProblems(decoded.failure.issue, value).map((p) =>
    formatSpecProblem(p.path === "" ? { ...p, path: "$" } : p)
  )
  return Result.fail(problems.join("; "))
}

/** One journal line, parsed: the fast path, else the schema. */
export const decodeJournalLine = (value: unknown): Result.Result<typeof JournalLine.Type, string> =>
  fastJournalLine(value) ? Result.succeed(value as typeof JournalLine.Type) : decodeValue(JournalLine, value)

/** The header file's text: the framing by {@link HeaderFile}, then every target's revision. */
export const decodeHeader = (text: string) => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return Result.fail(text.trim() === "" ? "empty" : `not JSON (${(e as Error).message})`)
  }
  return checkHeader(value)
}

/** A header (parsed, or about to be written): {@link HeaderFile}, then every target's revision. */
export const checkHeader = (
  value: unknown
): Result.Result<
  Omit<typeof HeaderFile.Type, "previous"> & { readonly previous: Record<string, Revision> },
  string
> => {
  const decoded = decodeValue(HeaderFile, value)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const previous = decoded.success.previous
  if (!isObject(previous))
    return Result.fail(`previous: expected an object, got ${JSON.stringify(previous) ?? "nothing"}`)
  for (const id in previous) {
    const revision = previous[id]
    if (fastRevision(revision)) continue
    const checked = decodeValue(Revision, revision)
    if (Result.isFailure(checked)) return Result.fail(`previous[${JSON.stringify(id)}]: ${checked.failure}`)
  }
  return Result.succeed(decoded.success as never)
}

/**
 * The decoders every `RolloutStore` checks what it reads with (the file store's own), for stores
 * kept elsewhere (`@sluice/adapters-k8s`'s Kubernetes store): each returns the decoded value or one
 * line listing every problem with its path, never throws.
 */
export const StoredRolloutCodec = {
  /** A header, parsed: the framing, then every target's revision. */
  header: (value: unknown) => checkHeader(value),
  /** One journal entry, parsed. */
  journalEntry: (value: unknown) => decodeJournalLine(value),
  /** A snapshot, parsed. */
  snapshot: (value: unknown) => decodeValue(SnapshotFile, value),
  /** An operator control request, parsed. */
  controlRequest: (value: unknown) => decodeValue(ControlRequestFile, value)
} as const
