import { Schema } from "effect"

/** A workload description could not be normalized (wrong shape, unsupported kind). */
export class NormalizeError extends Schema.TaggedError<NormalizeError>()("NormalizeError", {
  source: Schema.Literals(["kubernetes", "docker", "normalized"]),
  message: Schema.String
}) {}

/** Optional in the raw API object; JSON `null` (common in Docker inspect output) counts as absent. */
export const opt = <S extends Schema.Top>(schema: S) => Schema.optional(Schema.NullOr(schema))

/** String map whose values may be `null` in hand-written manifests; `null` values are dropped. */
export const StringMap = Schema.Record(Schema.String, Schema.NullOr(Schema.String))

export const stringMap = (m: Readonly<Record<string, string | null>> | null | undefined): Record<string, string> => {
  const out: Record<string, string> = {}
  if (m) for (const [k, v] of Object.entries(m)) if (typeof v === "string") out[k] = v
  return out
}

export const strings = (xs: ReadonlyArray<string> | null | undefined): Array<string> => (xs ? [...xs] : [])
