import type { ParsedRego } from "./rego.js"

/**
 * Mutants of a Rego file, from opa's AST (`opa parse --json-include locations`): every edit is a
 * byte range of the source that opa located, checked against the text opa says is there, so an
 * edit never lands beside its node. Each mutant changes one thing a policy's tests should notice.
 */

export type MutationOperator =
  | "negate-comparison"
  | "negate-condition"
  | "drop-condition"
  | "change-constant"
  | "some-to-every"
  | "every-to-some"

export interface Mutant {
  /** The file, relative to the policy folder. */
  readonly file: string
  readonly line: number
  readonly column: number
  readonly operator: MutationOperator
  /** The source text replaced (`>=`, `"latest"`, a whole condition) and what replaces it. */
  readonly original: string
  readonly replacement: string
  /** Byte range of `original` in the file. */
  readonly start: number
  readonly end: number
}

const NEGATED: Readonly<Record<string, string>> = {
  "==": "!=",
  "!=": "==",
  "<": ">=",
  "<=": ">",
  ">": "<=",
  ">=": "<"
}

/**
 * Built-ins whose string arguments only build text (messages): mutating those strings changes
 * wording no decision depends on, so the mutants would survive every honest test and drown the
 * ones that matter.
 */
const TEXT_BUILDERS = new Set(["concat", "sprintf", "format_int", "strings.join"])

type Node = Record<string, unknown>
const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && !Array.isArray(u)

interface Located {
  readonly start: number
  readonly end: number
  readonly text: string
  readonly line: number
  readonly column: number
}

interface Context {
  /** String constants here are message text (see TEXT_BUILDERS). */
  readonly textOnly: boolean
}

export const generateMutants = (file: string, parsed: ParsedRego): Array<Mutant> => {
  const { source } = parsed
  const lineStarts = [0]
  for (let i = 0; i < source.length; i++) if (source[i] === 0x0a) lineStarts.push(i + 1)
  const out: Array<Mutant> = []

  /** The node's byte range, or undefined when opa's location does not match the file's bytes. */
  const locate = (node: unknown): Located | undefined => {
    if (!isNode(node) || !isNode(node.location)) return undefined
    const { row, col, text } = node.location
    if (typeof row !== "number" || typeof col !== "number" || typeof text !== "string") return undefined
    const lineStart = lineStarts[row - 1]
    if (lineStart === undefined) return undefined
    const bytes = Buffer.from(text, "base64")
    const start = lineStart + col - 1
    if (bytes.length === 0 || !source.subarray(start, start + bytes.length).equals(bytes)) return undefined
    return { start, end: start + bytes.length, text: bytes.toString("utf8"), line: row, column: col }
  }

  const add = (
    at: Located,
    operator: MutationOperator,
    replacement: string,
    range?: { start: number; end: number }
  ) => {
    const start = range?.start ?? at.start
    const end = range?.end ?? at.end
    out.push({
      file,
      line: at.line,
      column: at.column,
      operator,
      original: source.subarray(start, end).toString("utf8"),
      replacement,
      start,
      end
    })
  }

  const indentOf = (offset: number): string => {
    let s = offset
    while (s > 0 && source[s - 1] !== 0x0a) s--
    const m = /^[ \t]*/.exec(source.subarray(s, offset).toString("utf8"))
    return m?.[0] ?? ""
  }

  const varsIn = (u: unknown, acc: Set<string>): Set<string> => {
    if (Array.isArray(u)) for (const x of u) varsIn(x, acc)
    else if (isNode(u)) {
      if (u.type === "var" && typeof u.value === "string") acc.add(u.value)
      for (const [k, v] of Object.entries(u)) if (k !== "location") varsIn(v, acc)
    }
    return acc
  }

  /** The operator of a call (`terms[0]` of an expression, `value[0]` of a call term). */
  const callee = (op: unknown): { name: string; at: Located | undefined } | undefined => {
    if (!isNode(op) || op.type !== "ref" || !Array.isArray(op.value)) return undefined
    const parts = op.value.map((p) => (isNode(p) && typeof p.value === "string" ? p.value : "?"))
    return { name: parts.join("."), at: locate(op) }
  }

  const visitCall = (terms: ReadonlyArray<unknown>) => {
    const [op, ...args] = terms
    const c = callee(op)
    if (c?.at !== undefined && NEGATED[c.at.text] !== undefined) {
      add(c.at, "negate-comparison", NEGATED[c.at.text]!)
    }
    const textOnly = c !== undefined && TEXT_BUILDERS.has(c.name)
    for (const a of args) visitTerm(a, { textOnly })
  }

  const visitTerm = (term: unknown, ctx: Context): void => {
    if (!isNode(term)) return
    const at = locate(term)
    switch (term.type) {
      case "number": {
        if (at === undefined) return
        const n = Number(at.text)
        if (!Number.isFinite(n)) return
        // n + 1, unless a double cannot tell n + 1 from n (1e24 + 1): then an integer gets a digit
        // more (×10, exact in the text), so no mutant is the same number written differently.
        if (n + 1 !== n) add(at, "change-constant", String(n + 1))
        else if (/^-?\d+$/.test(at.text)) add(at, "change-constant", `${at.text}0`)
        return
      }
      case "boolean":
        if (at !== undefined && (at.text === "true" || at.text === "false"))
          add(at, "change-constant", at.text === "true" ? "false" : "true")
        return
      case "string":
        if (at !== undefined && !ctx.textOnly && /^["`]/.test(at.text))
          add(at, "change-constant", term.value === "" ? `"sluice-mutant"` : `""`)
        return
      case "call":
        if (Array.isArray(term.value)) visitCall(term.value)
        return
      case "ref":
        // The path of a reference (`input.workload.containers`) is not a constant; what is inside
        // brackets may hold calls or comprehensions.
        if (Array.isArray(term.value))
          for (const part of term.value.slice(1)) if (isNode(part) && part.type !== "string") visitTerm(part, ctx)
        return
      case "array":
        // Arrays are where policies assemble messages (`wl.violation(id, c, [..., "text"])`).
        if (Array.isArray(term.value)) for (const e of term.value) visitTerm(e, { textOnly: true })
        return
      case "set":
        if (Array.isArray(term.value)) for (const e of term.value) visitTerm(e, ctx)
        return
      case "object":
        if (Array.isArray(term.value))
          for (const pair of term.value) {
            if (!Array.isArray(pair)) continue
            const [k, v] = pair
            // Keys are the decision's shape (a changed key is a malformed decision, not a weak test);
            // a "message" value is wording.
            const isMessage = isNode(k) && k.value === "message"
            visitTerm(v, { textOnly: isMessage })
          }
        return
      case "arraycomprehension":
      case "setcomprehension":
        if (isNode(term.value)) {
          visitTerm(term.value.term, ctx)
          if (Array.isArray(term.value.body)) visitBody(term.value.body, new Set())
        }
        return
      case "objectcomprehension":
        if (isNode(term.value)) {
          visitTerm(term.value.value, ctx)
          if (Array.isArray(term.value.body)) visitBody(term.value.body, new Set())
        }
        return
      case "not":
        if (Array.isArray(term.body)) visitBody(term.body, new Set())
        return
      default:
        return
    }
  }

  const isAssignment = (expr: Node) => {
    if (!Array.isArray(expr.terms)) return false
    const c = callee(expr.terms[0])
    return c !== undefined && (c.name === "assign" || c.name === "eq")
  }

  /** `some x in xs` / `some k, v in xs`: the member call, else undefined. */
  const someIn = (expr: Node): { vars: Array<Located>; domain: Located } | undefined => {
    if (!isNode(expr.terms) || !Array.isArray(expr.terms.symbols)) return undefined
    const [call] = expr.terms.symbols
    if (!isNode(call) || call.type !== "call" || !Array.isArray(call.value)) return undefined
    const c = callee(call.value[0])
    if (c === undefined || (c.name !== "internal.member_2" && c.name !== "internal.member_3")) return undefined
    const located = call.value.slice(1).map(locate)
    if (located.some((l) => l === undefined)) return undefined
    const all = located as Array<Located>
    return { vars: all.slice(0, -1), domain: all[all.length - 1]! }
  }

  const visitBody = (body: ReadonlyArray<unknown>, headVars: ReadonlySet<string>) => {
    const exprs = body.filter(isNode)
    exprs.forEach((expr, i) => {
      if (expr.generated === true) return
      const at = locate(expr)
      const some = someIn(expr)
      if (at !== undefined && some === undefined && !isAssignment(expr)) {
        // Dropping a condition: `true` keeps the body well-formed whatever its layout.
        add(at, "drop-condition", "true")
      }
      // `not x` is `negated` on the expression, or (with `import future.keywords.not`) a `not` term
      // holding a body; a block (`not { ... }`) has no single condition to un-negate.
      const notTerm = isNode(expr.terms) && expr.terms.type === "not" && expr.terms.explicit_body !== true
      if (at !== undefined && (expr.negated === true || notTerm) && /^not\s/.test(at.text)) {
        add(at, "negate-condition", at.text.replace(/^not\s+/, ""))
      }
      if (at !== undefined && some !== undefined && i < exprs.length - 1) {
        // `some x in xs; rest` → `every x in xs { rest }`, unless the head uses x (every binds
        // nothing outside its block, so that mutant could never compile).
        const bound = some.vars.map((v) => v.text)
        const rest = exprs.slice(i + 1).map(locate)
        const last = rest[rest.length - 1]
        const first = rest[0]
        if (!bound.some((v) => headVars.has(v)) && first !== undefined && last !== undefined) {
          const indent = indentOf(at.start)
          const inner = source.subarray(first.start, last.end).toString("utf8")
          add(
            at,
            "some-to-every",
            `every ${bound.join(", ")} in ${some.domain.text} {\n${indent}\t${inner}\n${indent}}`,
            {
              start: at.start,
              end: last.end
            }
          )
        }
      }
      if (isNode(expr.terms) && isNode(expr.terms.domain) && Array.isArray(expr.terms.body)) {
        const every = expr.terms
        const everyBody: ReadonlyArray<unknown> = expr.terms.body
        const vars = [every.key, every.value].map(locate).filter((l): l is Located => l !== undefined)
        const domain = locate(every.domain)
        const inner = everyBody.map(locate)
        const first = inner[0]
        const last = inner[inner.length - 1]
        if (at !== undefined && domain !== undefined && first !== undefined && last !== undefined && vars.length > 0) {
          const indent = indentOf(at.start)
          const text = source.subarray(first.start, last.end).toString("utf8")
          add(at, "every-to-some", `some ${vars.map((v) => v.text).join(", ")} in ${domain.text}\n${indent}${text}`)
        }
        visitTerm(every.domain, { textOnly: false })
        visitBody(everyBody, new Set())
        return
      }
      if (Array.isArray(expr.terms)) {
        if (expr.terms.length === 1) visitTerm(expr.terms[0], { textOnly: false })
        else visitCall(expr.terms)
      } else if (isNode(expr.terms) && Array.isArray(expr.terms.symbols)) {
        for (const s of expr.terms.symbols) visitTerm(s, { textOnly: false })
      } else visitTerm(expr.terms, { textOnly: false })
    })
  }

  const visitRule = (rule: unknown): void => {
    if (!isNode(rule)) return
    const head = isNode(rule.head) ? rule.head : {}
    const headVars = varsIn([head.key, head.value], new Set())
    if (head.key !== undefined) visitTerm(head.key, { textOnly: false })
    if (head.value !== undefined) visitTerm(head.value, { textOnly: false })
    if (Array.isArray(rule.body)) visitBody(rule.body, headVars)
    if (rule.else !== undefined) visitRule(rule.else)
  }

  for (const rule of parsed.rules) visitRule(rule)

  // One mutant per distinct edit (an else's head shares locations with its rule), in file order.
  const seen = new Set<string>()
  return out
    .filter((m) => {
      const key = `${m.start}:${m.end}:${m.replacement}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    .sort((a, b) => a.start - b.start || a.end - b.end || a.operator.localeCompare(b.operator))
}

/** The source with the mutant's edit made. */
export const applyMutant = (source: Buffer, mutant: Mutant): Buffer =>
  Buffer.concat([
    source.subarray(0, mutant.start),
    Buffer.from(mutant.replacement, "utf8"),
    source.subarray(mutant.end)
  ])

/**
 * At most `max` of the mutants, spread evenly over the list (which is in file order), so a bound
 * run still samples every file and operator rather than the first file only.
 */
export const sampleMutants = <A>(mutants: ReadonlyArray<A>, max: number): Array<A> => {
  if (mutants.length <= max) return [...mutants]
  return Array.from({ length: max }, (_, i) => mutants[Math.floor((i * mutants.length) / max)]!)
}
