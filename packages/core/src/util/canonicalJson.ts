import canonicalize from "canonicalize"
import { Data, Result } from "effect"

/**
 * A value RFC 8785 cannot represent: a non-finite number, a string with a lone UTF-16 surrogate,
 * a cycle, or `undefined` at the top. (A naive sorter wrote `null` or an escaped surrogate for
 * these, so two different values could hash the same.)
 */
export class CanonicalJsonError extends Data.TaggedError("CanonicalJsonError")<{ readonly message: string }> {}

/**
 * The RFC 8785 (JSON Canonicalization Scheme) form of a JSON value, as errors-as-data: object keys
 * sorted by UTF-16 code units at every level — integer-like keys included, which a plain
 * `JSON.stringify` of a "sorted" object would put first in numeric order — `undefined` members
 * dropped, numbers and strings as ECMAScript writes them, no whitespace.
 */
export function canonicalJsonResult(value: unknown): Result.Result<string, CanonicalJsonError> {
  let text: string | undefined
  try {
    text = canonicalize(value)
  } catch (e) {
    return Result.fail(new CanonicalJsonError({ message: e instanceof Error ? e.message : String(e) }))
  }
  return text === undefined
    ? Result.fail(new CanonicalJsonError({ message: "not a JSON value" }))
    : Result.succeed(text)
}

/**
 * {@link canonicalJsonResult} for values known to be JSON data (decoded specs, plans, API
 * objects): equal values always give the same bytes, so it can be hashed and compared. With
 * `indent`, the same bytes laid out like `JSON.stringify(…, null, indent)` for people to read (the
 * key order stays RFC 8785's). A value outside JSON is a bug in the caller: it throws
 * {@link CanonicalJsonError}.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  const r = canonicalJsonResult(value)
  if (Result.isFailure(r)) throw r.failure
  return indent === undefined || indent <= 0 ? r.success : indentJson(r.success, " ".repeat(indent))
}

// A quoted string (escapes included) or one structural character; nothing else needs spacing.
const TOKEN = /"(?:[^"\\]|\\.)*"|[{}[\],:]/g
// A member name JavaScript would enumerate out of insertion order (array-index-like).
const INTEGER_KEY = /"(?:0|[1-9]\d*)":/

/**
 * Lays out compact JSON (no whitespace outside strings, as canonical JSON is) the way
 * `JSON.stringify(v, null, pad)` would. Re-serializing a parsed copy is faster but would put
 * integer-like keys back in numeric order, so it is used only when no such key can be present.
 */
function indentJson(compact: string, pad: string): string {
  return INTEGER_KEY.test(compact) ? layOut(compact, pad) : JSON.stringify(JSON.parse(compact), null, pad)
}

/** {@link indentJson} by re-spacing the text itself (exported for its test only). */
export function layOut(compact: string, pad: string): string {
  const out: Array<string> = []
  let depth = 0
  const newline = (): string => `\n${pad.repeat(depth)}`
  TOKEN.lastIndex = 0
  let from = 0
  for (let m = TOKEN.exec(compact); m !== null; m = TOKEN.exec(compact)) {
    const token = m[0]
    const at = m.index
    switch (token) {
      case "{":
      case "[":
        if (compact[at + 1] === (token === "{" ? "}" : "]")) break // `{}` and `[]` stay on one line
        depth++
        out.push(compact.slice(from, at + 1), newline())
        from = at + 1
        break
      case "}":
      case "]":
        if (compact[at - 1] === (token === "}" ? "{" : "[")) break
        depth--
        out.push(compact.slice(from, at), newline())
        from = at
        break
      case ",":
        out.push(compact.slice(from, at + 1), newline())
        from = at + 1
        break
      case ":":
        out.push(compact.slice(from, at + 1), " ")
        from = at + 1
        break
      default:
        break // a string: copied as it is
    }
  }
  out.push(compact.slice(from))
  return out.join("")
}
