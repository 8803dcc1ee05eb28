import { Effect, Result, Schema } from "effect"
import {
  EXACTLY_ONE_RULES,
  exactlyOneMessage,
  type RolloutSpec,
  type RolloutSpecEncoded,
  RolloutSpecSchema
} from "./Rollout.js"
import {
  dedupeProblems,
  formatPath,
  issueToLocatedProblems,
  issueToProblems,
  type LocatedProblem,
  type PathSegment,
  SpecError
} from "./SpecError.js"

const PARSE_OPTIONS = { errors: "all", onExcessProperty: "error" } as const

const decodeResult = Schema.decodeUnknownResult(RolloutSpecSchema, PARSE_OPTIONS)
const encodeResult = Schema.encodeUnknownResult(RolloutSpecSchema, PARSE_OPTIONS)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The raw-input checks of {@link EXACTLY_ONE_RULES} (see there why they also run on the raw input). */
function exactlyOneProblems(input: unknown): Array<LocatedProblem> {
  const out: Array<LocatedProblem> = []
  for (const rule of EXACTLY_ONE_RULES) {
    const visit = (value: unknown, rest: ReadonlyArray<string>, at: Array<PathSegment>): void => {
      if (rest.length === 0) {
        if (!isRecord(value)) return
        const given = rule.keys.filter((k) => Object.hasOwn(value, k) && value[k] !== undefined)
        if (given.length !== 1) {
          out.push({
            segments: at,
            problem: { path: formatPath(at), message: exactlyOneMessage(rule.what, rule.keys, given) }
          })
        }
        return
      }
      const [head, ...tail] = rest
      if (head === "*") {
        if (Array.isArray(value)) value.forEach((item, i) => visit(item, tail, [...at, i]))
      } else if (isRecord(value) && head !== undefined && Object.hasOwn(value, head)) {
        visit(value[head], tail, [...at, head])
      }
    }
    visit(input, rule.path, [])
  }
  return out
}

const internalProblem = (e: unknown): LocatedProblem => ({
  segments: [],
  problem: {
    path: "",
    message: `internal error while decoding the spec: ${e instanceof Error ? e.message : String(e)}`
  }
})

/** Decodes and keeps each problem's path segments (for locating it in source documents). */
export function decodeRolloutSpecLocated(input: unknown): Result.Result<RolloutSpec, ReadonlyArray<LocatedProblem>> {
  try {
    const result = decodeResult(input)
    if (Result.isSuccess(result)) return Result.succeed(result.success)
    return Result.fail(
      dedupeProblems([...issueToLocatedProblems(result.failure.issue, input), ...exactlyOneProblems(input)])
    )
  } catch (e) {
    return Result.fail([internalProblem(e)])
  }
}

/**
 * Decodes a Rollout document (already parsed from YAML/JSON). Never throws: an invalid document
 * gives a {@link SpecError} listing every problem with its path. Unknown fields are errors.
 */
export function decodeRolloutSpec(input: unknown): Result.Result<RolloutSpec, SpecError> {
  return Result.mapError(
    decodeRolloutSpecLocated(input),
    (problems) => new SpecError({ problems: problems.map((p) => p.problem) })
  )
}

/** {@link decodeRolloutSpec} as an Effect failing with {@link SpecError}. */
export const decodeRolloutSpecEffect = (input: unknown): Effect.Effect<RolloutSpec, SpecError> =>
  Effect.suspend(() => Effect.fromResult(decodeRolloutSpec(input)))

/** Back to the document form (durations as strings, percentages as `"25%"`, the image as written). */
export function encodeRolloutSpec(spec: RolloutSpec): Result.Result<RolloutSpecEncoded, SpecError> {
  try {
    const result = encodeResult(spec)
    return Result.isSuccess(result)
      ? Result.succeed(result.success)
      : Result.fail(new SpecError({ problems: issueToProblems(result.failure.issue, spec) }))
  } catch (e) {
    return Result.fail(new SpecError({ problems: [internalProblem(e).problem] }))
  }
}
