import { Result } from "effect"

/**
 * Analysis success conditions: `result <op> <number>` comparisons joined by `&&` or `||`
 * (`&&` binds tighter), e.g. `result < 0.05`, `result >= 0.99 && result <= 1`, `result < 1e-3`.
 *
 * This is the one grammar: the spec's Schema decodes a condition with it (a condition that does not
 * parse is a spec error with its position) and the run evaluates the parsed value, so a spec the
 * planner accepted can never fail its analysis because the condition cannot be read.
 */
export type ComparisonOp = "<" | "<=" | ">" | ">=" | "==" | "!="

export interface Comparison {
  readonly op: ComparisonOp
  readonly value: number
}

/** Disjunction of conjunctions of comparisons against `result`. */
export type SuccessCondition = ReadonlyArray<ReadonlyArray<Comparison>>

/** Why a condition does not parse: the 1-based column where the offending comparison starts. */
export interface ConditionProblem {
  readonly column: number
  readonly message: string
}

const COMPARISON = /^result\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)$/

/** Splits on a separator, keeping each part's offset in the original text. */
const split = (text: string, offset: number, separator: string) => {
  const parts: Array<{ readonly text: string; readonly offset: number }> = []
  let start = 0
  for (let at = text.indexOf(separator); at !== -1; at = text.indexOf(separator, start)) {
    parts.push({ text: text.slice(start, at), offset: offset + start })
    start = at + separator.length
  }
  parts.push({ text: text.slice(start), offset: offset + start })
  return parts
}

export function decodeSuccessCondition(text: string): Result.Result<SuccessCondition, ConditionProblem> {
  if (typeof text !== "string" || text.trim() === "")
    return Result.fail({ column: 1, message: "the condition is empty" })
  const out: Array<Array<Comparison>> = []
  for (const disjunct of split(text, 0, "||")) {
    const conj: Array<Comparison> = []
    for (const part of split(disjunct.text, disjunct.offset, "&&")) {
      const trimmed = part.text.trim()
      const column = part.offset + (part.text.length - part.text.trimStart().length) + 1
      const match = COMPARISON.exec(trimmed)
      if (match === null) {
        return Result.fail({
          column,
          message:
            trimmed === ""
              ? "a comparison is missing (result <op> number)"
              : `"${trimmed}" is not a comparison of the form result <op> number (op: < <= > >= == !=)`
        })
      }
      const value = Number(match[2])
      if (!Number.isFinite(value)) return Result.fail({ column, message: `${match[2]} is not a finite number` })
      conj.push({ op: match[1] as ComparisonOp, value })
    }
    out.push(conj)
  }
  return Result.succeed(out)
}

/** The parsed condition, or undefined when it does not parse. */
export function parseSuccessCondition(text: string): SuccessCondition | undefined {
  const r = decodeSuccessCondition(text)
  return Result.isSuccess(r) ? r.success : undefined
}

const compare = (op: ComparisonOp, a: number, b: number): boolean => {
  switch (op) {
    case "<":
      return a < b
    case "<=":
      return a <= b
    case ">":
      return a > b
    case ">=":
      return a >= b
    case "==":
      return a === b
    case "!=":
      return a !== b
  }
}

/** Evaluates a parsed condition for one metric value (NaN never satisfies a comparison but `!=`). */
export function evaluateSuccessCondition(condition: SuccessCondition, result: number): boolean {
  return condition.some((conj) => conj.every((c) => compare(c.op, result, c.value)))
}
