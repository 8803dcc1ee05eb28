import { Result, Schema } from "effect"
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

export const ControlSignalSchema = Schema.Literals(["PAUSE", "RESUME", "ABORT", "APPROVE", "PROMOTE"])

/** A control id names its inbox file: letters, digits, `.`, `_`, `-`. */
export const CONTROL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export const ControlRequestFile = Schema.Struct({
  id: Schema.String.check(Schema.isPattern(CONTROL_ID)),
  signal: ControlSignalSchema,
  at: Schema.Number,
  reason: Schema.optionalKey(Schema.String)
})

export const HeaderFile = Schema.Struct({
  rolloutId: Schema.String,
  createdAt: Schema.Number,
  spec: Schema.Unknown,
  image: Schema.String,
  adapter: Schema.String,
  config: JsonObject,
  machineInput: JsonObject,
  plan: JsonObject,
  previous: Schema.Record(Schema.String, Revision)
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

export const decodeValue = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  value: unknown
): Result.Result<S["Type"], string> => {
  const decoded = Schema.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], unknown>, options)(value)
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const problems = issueToProblems(decoded.failure.issue, value).map((p) =>
    formatSpecProblem(p.path === "" ? { ...p, path: "$" } : p)
  )
  return Result.fail(problems.join("; "))
}
