/**
 * Analysis success conditions: `result <op> <number>` comparisons joined by `&&` or `||`
 * (`&&` binds tighter), e.g. `result < 0.05`, `result >= 0.99 && result <= 1`.
 */
export type ComparisonOp = "<" | "<=" | ">" | ">=" | "==" | "!="

export interface Comparison {
  readonly op: ComparisonOp
  readonly value: number
}

/** Disjunction of conjunctions of comparisons against `result`. */
export type SuccessCondition = ReadonlyArray<ReadonlyArray<Comparison>>

const COMPARISON = /^result\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)$/

export function parseSuccessCondition(text: string): SuccessCondition | undefined {
  if (typeof text !== "string" || text.trim() === "") return undefined
  const out: Array<Array<Comparison>> = []
  for (const disjunct of text.split("||")) {
    const conj: Array<Comparison> = []
    for (const part of disjunct.split("&&")) {
      const match = COMPARISON.exec(part.trim())
      if (match === null) return undefined
      conj.push({ op: match[1] as ComparisonOp, value: Number(match[2]) })
    }
    out.push(conj)
  }
  return out
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
