import { Schema, type SchemaAST, type SchemaIssue } from "effect"
import { didYouMean } from "../util/didYouMean.js"

/** One problem found in a Rollout document. */
export const SpecProblem = Schema.Struct({
  /** Where, e.g. `spec.strategy.canary.steps[2].setWeight`; empty for the document as a whole. */
  path: Schema.String,
  /** What is wrong, e.g. `expected an integer 0..100, got 140`. */
  message: Schema.String,
  /** What was expected, when the problem is a wrong value. */
  expected: Schema.optionalKey(Schema.String),
  /** The value found, rendered short, when the problem is a wrong value. */
  found: Schema.optionalKey(Schema.String),
  /** The file (or `--set …`) the value came from, when known. */
  source: Schema.optionalKey(Schema.String),
  /** 1-based line and column in `source`, when known. */
  line: Schema.optionalKey(Schema.Int),
  column: Schema.optionalKey(Schema.Int)
})
export type SpecProblem = typeof SpecProblem.Type

/** `path: message`, with ` (at source:line:column)` when the location is known. */
export function formatSpecProblem(problem: SpecProblem): string {
  const head = problem.path === "" ? problem.message : `${problem.path}: ${problem.message}`
  if (problem.source === undefined && problem.line === undefined) return head
  const where = [problem.source ?? "", problem.line, problem.column].filter((x) => x !== undefined && x !== "")
  return `${head} (at ${where.join(":")})`
}

/** The Rollout document is invalid: every problem found, each with its path. Decoding never throws. */
export class SpecError extends Schema.TaggedError<SpecError>()("SpecError", {
  problems: Schema.Array(SpecProblem)
}) {
  override get message(): string {
    const n = this.problems.length
    return [`invalid Rollout spec (${n} problem${n === 1 ? "" : "s"}):`, ...this.problems.map(formatSpecProblem)].join(
      "\n  "
    )
  }
}

// ---------------------------------------------------------------------------------------------
// paths and values
// ---------------------------------------------------------------------------------------------

export type PathSegment = string | number

const IDENT = /^[A-Za-z_$][\w$-]*$/

/** `["spec", "steps", 2, "setWeight"]` → `spec.steps[2].setWeight`; odd keys as `["a.b/c"]`. */
export function formatPath(path: ReadonlyArray<PathSegment>): string {
  let out = ""
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`
    else if (IDENT.test(seg)) out += out === "" ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

const hasOwn = (o: object, key: PropertyKey): boolean => Object.hasOwn(o, key)

/** The value at `path` in a plain JSON-like tree, or `undefined`. Never invokes getters of other objects. */
export function getAtPath(root: unknown, path: ReadonlyArray<PathSegment>): unknown {
  let cur: unknown = root
  for (const seg of path) {
    if (typeof cur !== "object" || cur === null || !hasOwn(cur, seg)) return undefined
    const desc = Object.getOwnPropertyDescriptor(cur, seg)
    if (desc === undefined || !("value" in desc)) return undefined
    cur = desc.value
  }
  return cur
}

const MAX_FOUND = 60

/** A short, safe rendering of a found value (cycle-safe, truncated). */
export function formatFound(value: unknown): string {
  const seen = new Set<unknown>()
  const render = (v: unknown, depth: number): string => {
    if (v === undefined) return "nothing"
    if (v === null) return "null"
    switch (typeof v) {
      case "string":
        return JSON.stringify(v)
      case "number":
      case "boolean":
        return String(v)
      case "bigint":
        return `${v}n`
      case "symbol":
        return v.toString()
      case "function":
        return "a function"
      default:
        break
    }
    if (seen.has(v) || depth > 3) return "…"
    seen.add(v)
    try {
      if (Array.isArray(v)) return `[${v.map((x) => render(x, depth + 1)).join(", ")}]`
      const entries = Object.keys(v as object).map((k) => {
        const d = Object.getOwnPropertyDescriptor(v as object, k)
        return `${IDENT.test(k) ? k : JSON.stringify(k)}: ${d !== undefined && "value" in d ? render(d.value, depth + 1) : "…"}`
      })
      return `{ ${entries.join(", ")} }`.replace("{  }", "{}")
    } finally {
      seen.delete(v)
    }
  }
  let out: string
  try {
    out = render(value, 0)
  } catch {
    out = "an unprintable value"
  }
  return out.length > MAX_FOUND ? `${out.slice(0, MAX_FOUND - 1)}…` : out
}

// ---------------------------------------------------------------------------------------------
// issue tree → problems
// ---------------------------------------------------------------------------------------------

/** The `expected` annotation of a schema (on its last check when it has checks). */
function expectedOf(ast: SchemaAST.AST | undefined): string | undefined {
  if (ast === undefined) return undefined
  const last = ast.checks?.[ast.checks.length - 1]
  const fromCheck = last?.annotations?.expected
  if (typeof fromCheck === "string") return fromCheck
  const own = ast.annotations?.expected
  return typeof own === "string" ? own : undefined
}

function describeAst(ast: SchemaAST.AST): string {
  const annotated = expectedOf(ast)
  if (annotated !== undefined) return annotated
  switch (ast._tag) {
    case "String":
      return "a string"
    case "Number":
      return "a number"
    case "Boolean":
      return "a boolean (true or false)"
    case "Literal":
      return JSON.stringify(ast.literal)
    case "Arrays":
      return "a list"
    case "Objects":
      return ast.propertySignatures.length === 0 && ast.indexSignatures.length > 0 ? "a map" : "an object"
    case "Null":
      return "null"
    case "Union": {
      const parts = [...new Set(ast.types.map(describeAst))]
      return parts.length <= 1
        ? (parts[0] ?? "a value")
        : `${parts.slice(0, -1).join(", ")} or ${parts[parts.length - 1]}`
    }
    default:
      return "a valid value"
  }
}

function childAst(ast: SchemaAST.AST | undefined, key: PropertyKey): SchemaAST.AST | undefined {
  if (ast === undefined) return undefined
  if (ast._tag === "Objects") {
    const ps = ast.propertySignatures.find((p) => p.name === key)
    return ps?.type ?? ast.indexSignatures[0]?.type
  }
  if (ast._tag === "Arrays") {
    return typeof key === "number" ? (ast.elements[key] ?? ast.rest[0]) : undefined
  }
  return undefined
}

interface Ctx {
  readonly path: ReadonlyArray<PathSegment>
  readonly field: SchemaAST.AST | undefined
  readonly container: SchemaAST.AST | undefined
  readonly filterExpected: string | undefined
}

const toSegment = (k: PropertyKey): PathSegment => (typeof k === "symbol" ? k.toString() : k)

/** A problem together with its path as segments (to locate it in the source documents). */
export interface LocatedProblem {
  readonly segments: ReadonlyArray<PathSegment>
  readonly problem: SpecProblem
}

/** Flattens a Schema issue tree into {@link SpecProblem}s, reading found values from `input`. */
export function issueToProblems(issue: SchemaIssue.Issue, input: unknown): Array<SpecProblem> {
  return issueToLocatedProblems(issue, input).map((p) => p.problem)
}

export function issueToLocatedProblems(issue: SchemaIssue.Issue, input: unknown): Array<LocatedProblem> {
  const out: Array<LocatedProblem> = []
  const wrong = (ctx: Ctx, expected: string): void => {
    const found = formatFound(getAtPath(input, ctx.path))
    out.push({
      segments: ctx.path,
      problem: { path: formatPath(ctx.path), message: `expected ${expected}, got ${found}`, expected, found }
    })
  }
  const say = (ctx: Ctx, message: string): void => {
    out.push({ segments: ctx.path, problem: { path: formatPath(ctx.path), message } })
  }

  const walk = (issue: SchemaIssue.Issue, ctx: Ctx): void => {
    switch (issue._tag) {
      case "Composite":
        for (const child of issue.issues) walk(child, { ...ctx, container: issue.ast })
        return
      case "Pointer": {
        let container = ctx.container
        let field: SchemaAST.AST | undefined = ctx.field
        for (const key of issue.path) {
          field = childAst(container, key)
          container = field
        }
        walk(issue.issue, {
          path: [...ctx.path, ...issue.path.map(toSegment)],
          field,
          container: undefined,
          filterExpected: undefined
        })
        return
      }
      case "Encoding":
        walk(issue.issue, ctx)
        return
      case "Filter": {
        const message = issue.filter.annotations?.message
        if (typeof message === "string") {
          say(ctx, message)
          return
        }
        const expected = issue.filter.annotations?.expected
        walk(issue.issue, { ...ctx, filterExpected: typeof expected === "string" ? expected : ctx.filterExpected })
        return
      }
      case "AnyOf":
        if (issue.issues.length === 0) {
          wrong(ctx, expectedOf(ctx.field) ?? describeAst(issue.ast))
          return
        }
        for (const child of issue.issues) walk(child, ctx)
        return
      case "UnexpectedKey": {
        const key = ctx.path[ctx.path.length - 1]
        const index = issue.ast._tag === "Objects" ? issue.ast.indexSignatures[0] : undefined
        if (index !== undefined) {
          // A map whose key schema rejected the key.
          say(ctx, `invalid key: expected ${expectedOf(index.parameter) ?? describeAst(index.parameter)}`)
          return
        }
        const known =
          issue.ast._tag === "Objects" ? issue.ast.propertySignatures.map((p) => String(p.name)) : ([] as Array<string>)
        const hint = typeof key === "string" ? didYouMean(key, known) : undefined
        say(ctx, hint === undefined ? "unknown field" : `unknown field (did you mean ${hint}?)`)
        return
      }
      case "MissingKey": {
        const last = ctx.path[ctx.path.length - 1]
        if (typeof last === "number") {
          // A missing tuple/non-empty-array element: the list is too short.
          wrong({ ...ctx, path: ctx.path.slice(0, -1) }, last === 0 ? "a non-empty list" : `at least ${last + 1} items`)
          return
        }
        const expected = expectedOf(ctx.field)
        say(ctx, expected === undefined ? "missing required field" : `missing required field (${expected})`)
        return
      }
      case "InvalidType":
        wrong(ctx, expectedOf(ctx.field) ?? describeAst(issue.ast))
        return
      case "InvalidValue": {
        const message = issue.annotations?.message
        if (typeof message === "string") {
          say(ctx, message)
          return
        }
        const own = issue.annotations?.expected
        wrong(
          ctx,
          expectedOf(ctx.field) ?? (typeof own === "string" ? own : undefined) ?? ctx.filterExpected ?? "a valid value"
        )
        return
      }
      case "OneOf":
        say(ctx, "matches more than one alternative")
        return
      case "Forbidden": {
        const message = issue.annotations?.message
        say(ctx, typeof message === "string" ? message : "forbidden")
        return
      }
    }
  }
  walk(issue, { path: [], field: undefined, container: undefined, filterExpected: undefined })
  return dedupeProblems(out)
}

export function dedupeProblems<P extends LocatedProblem>(problems: ReadonlyArray<P>): Array<P> {
  const seen = new Set<string>()
  return problems.filter(({ problem: p }) => {
    const key = `${p.path}\u0000${p.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
