import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"

/** An absolute number of targets, or a percentage of the eligible fleet. */
export type CountOrPercent =
  | { readonly kind: "count"; readonly value: number }
  | { readonly kind: "percent"; readonly value: number }

export const CountOrPercentType = Schema.Union([
  Schema.Struct({ kind: Schema.Literal("count"), value: Schema.Int }),
  Schema.Struct({ kind: Schema.Literal("percent"), value: Schema.Int })
])

const PERCENT = /^(\d{1,3})%$/

/**
 * `5` (an integer count ≥ `minCount`) or `"25%"` (an integer percentage `minPercent`..100)
 * ⇄ {@link CountOrPercent}.
 */
export function countOrPercent(options: { readonly minCount: number; readonly minPercent: number }) {
  const { minCount, minPercent } = options
  const expected = `a count (an integer >= ${minCount}) or a percentage "${minPercent}%".."100%"`
  return Schema.Union([Schema.Number, Schema.String])
    .pipe(
      Schema.decodeTo(
        CountOrPercentType,
        SchemaTransformation.transformEffect({
          decode: (input: number | string) => {
            if (typeof input === "number") {
              return Number.isSafeInteger(input) && input >= minCount
                ? Effect.succeed({ kind: "count" as const, value: input })
                : Effect.fail(new SchemaIssue.InvalidValue({ expected }))
            }
            const match = PERCENT.exec(input)
            const value = match === null ? Number.NaN : Number(match[1])
            return value >= minPercent && value <= 100
              ? Effect.succeed({ kind: "percent" as const, value })
              : Effect.fail(new SchemaIssue.InvalidValue({ expected }))
          },
          encode: (v: CountOrPercent) => Effect.succeed(v.kind === "count" ? v.value : `${v.value}%`)
        })
      )
    )
    .annotate({ expected })
}

/** Percent of `total`, rounded up (batch sizes, surge, topology shares): `ceil(p·total/100)`. */
export function resolveUp(v: CountOrPercent, total: number): number {
  return v.kind === "count" ? v.value : Math.ceil((v.value * total) / 100)
}

/** Percent of `total`, rounded down (maxUnavailable, like Kubernetes): `floor(p·total/100)`. */
export function resolveDown(v: CountOrPercent, total: number): number {
  return v.kind === "count" ? v.value : Math.floor((v.value * total) / 100)
}

export function formatCountOrPercent(v: CountOrPercent): string | number {
  return v.kind === "count" ? v.value : `${v.value}%`
}
