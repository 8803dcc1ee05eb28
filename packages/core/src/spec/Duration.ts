import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }
const PART = /(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)/y
/** Largest accepted duration: 365 days. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000

/**
 * Parses a Go-style duration (`90s`, `10m`, `1h30m`, `500ms`, `1.5s`, `0`) into whole
 * milliseconds. Units: `h`, `m`, `s`, `ms`; no sign; the total must be a whole number of
 * milliseconds and at most {@link MAX_DURATION_MS}. Returns `undefined` when invalid.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== "string") return undefined
  if (text === "0") return 0
  if (text === "") return undefined
  let total = 0
  PART.lastIndex = 0
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex
    const match = PART.exec(text)
    if (match === null || match.index !== start) return undefined
    const unit = UNIT_MS[match[2]!]!
    total += Number(match[1]) * unit
  }
  const rounded = Math.round(total)
  if (!Number.isFinite(total) || Math.abs(total - rounded) > 1e-6 || rounded > MAX_DURATION_MS) return undefined
  return rounded
}

/** Formats whole milliseconds as the shortest Go-style duration (`90000` → `1m30s`, `0` → `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s"
  let rest = Math.round(ms)
  let out = ""
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
    ["ms", 1]
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) {
      out += `${n}${unit}`
      rest -= n * size
    }
  }
  return out
}

export const DURATION_EXPECTED = 'a duration like "90s", "10m", "1h30m" or "500ms"'

/** A Go-style duration string ⇄ whole milliseconds. */
export const DurationMs = Schema.String.pipe(
  Schema.decodeTo(
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: MAX_DURATION_MS })),
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const ms = parseDuration(text)
        return ms === undefined
          ? Effect.fail(new SchemaIssue.InvalidValue({ expected: DURATION_EXPECTED }))
          : Effect.succeed(ms)
      },
      encode: (ms: number) => Effect.succeed(formatDuration(ms))
    })
  )
).annotate({ expected: DURATION_EXPECTED })
