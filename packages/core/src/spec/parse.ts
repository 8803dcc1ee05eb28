import { Effect, Result } from "effect"
import { parse as parseYaml } from "yaml"
import { decodeRolloutSpecLocated } from "./decode.js"
import type { RolloutSpec } from "./Rollout.js"
import { formatPath, type LocatedProblem, type PathSegment, SpecError, type SpecProblem } from "./SpecError.js"
import { MAX_NESTING, readYaml } from "./yamlDocument.js"
import { deepMerge } from "../util/deepMerge.js"

// ---------------------------------------------------------------------------------------------
// documents
// ---------------------------------------------------------------------------------------------

export type SpecFormat = "yaml" | "json"

/** A parsed source document, able to tell where a path is in its text. */
export interface SourceDocument {
  readonly name: string
  readonly value: unknown
  /** 1-based line/column of the deepest node on `path`, how many segments were found, and whether all were. */
  readonly locate: (
    path: ReadonlyArray<PathSegment>
  ) => { line: number; column: number; depth: number; exact: boolean } | undefined
}

const problem = (p: SpecProblem): SpecError => new SpecError({ problems: [p] })

/** 1-based line and column of an offset. */
function linePosIn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++
    lineStart = i + 1
  }
  return { line, column: offset - lineStart + 1 }
}

const JSON_END = /Unexpected end of JSON input/
const jsonPosition = (message: string): number | undefined => {
  const at = / at position (\d+)/.exec(message)
  return at === null ? undefined : Number(at[1])
}

/**
 * Where `JSON.parse` rejected `text`, from its message: V8 gives the position of most errors but
 * none for an unexpected token (`[1,,2]`, `tru}`), so that one is found as the end of the
 * shortest prefix that fails before its own end (a binary search: O(n log n), on errors only).
 */
function jsonErrorOffset(text: string, message: string): number {
  const at = jsonPosition(message)
  if (at !== undefined) return at
  if (JSON_END.test(message)) return text.length
  const failsWithin = (k: number): boolean => {
    try {
      JSON.parse(text.slice(0, k))
      return false
    } catch (e) {
      const m = e instanceof Error ? e.message : ""
      const p = jsonPosition(m)
      // An error at the prefix's end (an unfinished string, number or literal) is not one yet.
      return p !== undefined ? p < k : !JSON_END.test(m)
    }
  }
  let lo = 1
  let hi = text.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (failsWithin(mid)) hi = mid
    else lo = mid + 1
  }
  return lo - 1
}

/**
 * Parses YAML (or JSON, which YAML 1.2 includes; `format: "json"` insists on strict JSON) into a
 * {@link SourceDocument}. Syntax errors, duplicate keys, several documents in one stream, nesting
 * deeper than {@link MAX_NESTING}, circular or exploding aliases become a {@link SpecError},
 * every problem with its line and column. Linear in the text (see `yamlDocument.ts`).
 */
export function parseSourceDocument(
  text: string,
  options: { readonly format?: SpecFormat; readonly name?: string } = {}
): Result.Result<SourceDocument, SpecError> {
  const name = options.name ?? (options.format === "json" ? "spec.json" : "spec.yaml")
  const language = options.format === "json" ? "JSON" : "YAML"
  try {
    if (options.format === "json") {
      try {
        JSON.parse(text)
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e)
        return Result.fail(
          problem({
            path: "",
            message: `JSON syntax error: ${message
              .replace(/ in JSON at position \d+.*$/s, "")
              .replace(/ at position \d+.*$/s, "")
              .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "")}`,
            source: name,
            ...linePosIn(text, jsonErrorOffset(text, message))
          })
        )
      }
    }
    const read = readYaml(text)
    if (read.problems.length > 0) {
      return Result.fail(
        new SpecError({
          problems: read.problems.map((p) => {
            const { line, column } = read.linePos(p.offset)
            return {
              path: "",
              message: p.syntax ? `${language} syntax error: ${p.message}` : p.message,
              source: name,
              line,
              column
            }
          })
        })
      )
    }
    return Result.succeed({
      name,
      value: read.value,
      locate: (path) => {
        const at = read.locate(path)
        return { ...read.linePos(at.offset), depth: at.depth, exact: at.exact }
      }
    })
  } catch (e) {
    return Result.fail(
      problem({
        path: "",
        message: `cannot parse the document: ${e instanceof Error ? e.message : String(e)}`,
        source: name,
        line: 1,
        column: 1
      })
    )
  }
}

// ---------------------------------------------------------------------------------------------
// overlays: --values and --set
// ---------------------------------------------------------------------------------------------

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Defines an own, enumerable property (safe for keys like `__proto__`). */
function put(target: Record<string, unknown> | Array<unknown>, key: PathSegment, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Parses a `--set` path: `a.b[2].c`, `metadata.labels["app.kubernetes.io/name"]`, `a\.b` (escaped dot). */
export function parseSetPath(text: string): Result.Result<Array<PathSegment>, string> {
  const out: Array<PathSegment> = []
  let i = 0
  let expectKey = true
  while (i < text.length) {
    const c = text[i]!
    if (c === "[") {
      const close = text.indexOf("]", i)
      if (close < 0) return Result.fail(`unclosed '[' at position ${i + 1}`)
      const inner = text.slice(i + 1, close)
      if (/^\d+$/.test(inner)) out.push(Number(inner))
      else if (/^"(?:[^"\\]|\\.)*"$/.test(inner)) out.push(JSON.parse(inner) as string)
      else if (/^'[^']*'$/.test(inner)) out.push(inner.slice(1, -1))
      else return Result.fail(`'[${inner}]' is neither an index nor a quoted key`)
      i = close + 1
      expectKey = false
      if (i < text.length && text[i] !== "." && text[i] !== "[") return Result.fail(`expected '.' or '[' after ']'`)
      if (text[i] === ".") {
        i++
        expectKey = true
        if (i >= text.length) return Result.fail("the path ends with '.'")
      }
      continue
    }
    if (!expectKey) return Result.fail(`unexpected '${c}' at position ${i + 1}`)
    let key = ""
    while (i < text.length && text[i] !== "." && text[i] !== "[") {
      if (text[i] === "\\" && i + 1 < text.length) {
        key += text[i + 1]
        i += 2
      } else {
        key += text[i]
        i++
      }
    }
    if (key === "") return Result.fail(`empty path segment at position ${i + 1}`)
    out.push(key)
    expectKey = false
    if (text[i] === ".") {
      i++
      expectKey = true
      if (i >= text.length) return Result.fail("the path ends with '.'")
    }
  }
  if (out.length === 0) return Result.fail("empty path")
  return Result.succeed(out)
}

/** A `--set` value: a YAML scalar (`5`, `true`, `null`, `"25%"`), or a flow collection (`[a, b]`, `{…}`). */
export function parseSetValue(text: string): unknown {
  if (text === "") return ""
  try {
    const v: unknown = parseYaml(text, { version: "1.2", maxAliasCount: 0 })
    const trimmed = text.trimStart()
    if (typeof v === "object" && v !== null && !trimmed.startsWith("[") && !trimmed.startsWith("{")) return text
    return v
  } catch {
    return text
  }
}

/** Sets (or, for `null`, removes) the value at `path`, creating objects/arrays on the way. Copy-on-write. */
export function setAtPath(
  root: unknown,
  path: ReadonlyArray<PathSegment>,
  value: unknown
): Result.Result<unknown, string> {
  const describe = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a list" : `a ${typeof v}`)
  const go = (node: unknown, depth: number): Result.Result<unknown, string> => {
    const seg = path[depth]!
    const last = depth === path.length - 1
    const here = formatPath(path.slice(0, depth)) || "the document"
    if (typeof seg === "number") {
      if (node === undefined) node = []
      if (!Array.isArray(node)) return Result.fail(`${here} is ${describe(node)}, not a list`)
      if (seg > node.length) return Result.fail(`index ${seg} is out of range: ${here} has ${node.length} items`)
      const copy = [...node]
      if (last) {
        copy[seg] = value
        return Result.succeed(copy)
      }
      const child = go(copy[seg], depth + 1)
      if (Result.isFailure(child)) return child
      copy[seg] = child.success
      return Result.succeed(copy)
    }
    if (node === undefined || node === null) node = {}
    if (!isPlainObject(node)) return Result.fail(`${here} is ${describe(node)}, not an object`)
    const copy: Record<string, unknown> = {}
    for (const k of Object.keys(node)) put(copy, k, node[k])
    if (last) {
      if (value === null) delete copy[seg]
      else put(copy, seg, value)
      return Result.succeed(copy)
    }
    const child = go(Object.hasOwn(copy, seg) ? copy[seg] : undefined, depth + 1)
    if (Result.isFailure(child)) return child
    put(copy, seg, child.success)
    return Result.succeed(copy)
  }
  return go(root, 0)
}

export interface SetExpression {
  readonly text: string
  readonly path: ReadonlyArray<PathSegment>
  readonly value: unknown
}

/** Parses `key.path=value` (the first `=` separates the path from the value). */
export function parseSetExpression(text: string): Result.Result<SetExpression, SpecError> {
  const source = `--set ${text}`
  const eq = text.indexOf("=")
  if (eq < 0) return Result.fail(problem({ path: "", message: "expected key.path=value", source }))
  const path = parseSetPath(text.slice(0, eq))
  if (Result.isFailure(path)) return Result.fail(problem({ path: "", message: `bad path: ${path.failure}`, source }))
  return Result.succeed({ text, path: path.success, value: parseSetValue(text.slice(eq + 1)) })
}

/** A values overlay: YAML/JSON text (optionally named, e.g. after its file) or an already-parsed value. */
export type ValuesSource =
  | string
  | { readonly name?: string; readonly text: string; readonly format?: SpecFormat }
  | { readonly name?: string; readonly value: unknown }

export interface OverlayOptions {
  /** Values documents deep-merged over the spec, in order (`--values env.yaml`). */
  readonly values?: ReadonlyArray<ValuesSource>
  /** `key.path=value` assignments applied after the values, in order (`--set`). */
  readonly set?: ReadonlyArray<string>
}

interface Applied {
  readonly value: unknown
  /** Later sources first. */
  readonly documents: ReadonlyArray<SourceDocument>
  readonly sets: ReadonlyArray<SetExpression>
}

function applyOverlaysTo(base: SourceDocument, options: OverlayOptions): Result.Result<Applied, SpecError> {
  const problems: Array<SpecProblem> = []
  const documents: Array<SourceDocument> = [base]
  let value = base.value
  ;(options.values ?? []).forEach((source, i) => {
    let doc: SourceDocument
    if (typeof source === "string" || "text" in source) {
      const text = typeof source === "string" ? source : source.text
      const name = typeof source === "string" ? `values[${i}]` : (source.name ?? `values[${i}]`)
      const parsed = parseSourceDocument(text, {
        name,
        ...(typeof source !== "string" && source.format !== undefined ? { format: source.format } : {})
      })
      if (Result.isFailure(parsed)) {
        problems.push(...parsed.failure.problems)
        return
      }
      doc = parsed.success
    } else {
      doc = { name: source.name ?? `values[${i}]`, value: source.value, locate: () => undefined }
    }
    if (doc.value === null || doc.value === undefined) return
    if (!isPlainObject(doc.value)) {
      problems.push({ path: "", message: "a values document must be a mapping", source: doc.name })
      return
    }
    documents.push(doc)
    // Helm semantics: a `null` in an overlay removes the key (`strategy: { rolling: null, … }`).
    value = deepMerge(value, doc.value, { nullDeletes: true })
  })
  const sets: Array<SetExpression> = []
  for (const text of options.set ?? []) {
    const expr = parseSetExpression(text)
    if (Result.isFailure(expr)) {
      problems.push(...expr.failure.problems)
      continue
    }
    const next = setAtPath(value, expr.success.path, expr.success.value)
    if (Result.isFailure(next)) {
      problems.push({
        path: formatPath(expr.success.path),
        message: `cannot set: ${next.failure}`,
        source: `--set ${text}`
      })
      continue
    }
    value = next.success
    sets.push(expr.success)
  }
  if (problems.length > 0) return Result.fail(new SpecError({ problems }))
  return Result.succeed({ value, documents: documents.reverse(), sets: sets.reverse() })
}

/** Applies `--values` documents then `--set` expressions to an already-parsed document. */
export function applyOverlays(doc: unknown, options: OverlayOptions): Result.Result<unknown, SpecError> {
  return Result.map(
    applyOverlaysTo({ name: "spec", value: doc, locate: () => undefined }, options),
    (applied) => applied.value
  )
}

const isPrefix = (prefix: ReadonlyArray<PathSegment>, path: ReadonlyArray<PathSegment>) =>
  prefix.length <= path.length && prefix.every((seg, i) => String(seg) === String(path[i]))

/** Adds source/line/column: the last `--set` covering the path, else the last document holding it. */
function locateProblem(applied: Applied, located: LocatedProblem): SpecProblem {
  const { segments, problem: p } = located
  const set = applied.sets.find((s) => isPrefix(s.path, segments))
  if (set !== undefined) return { ...p, source: `--set ${set.text}` }
  let best: { doc: SourceDocument; line: number; column: number; depth: number } | undefined
  for (const doc of applied.documents) {
    const at = doc.locate(segments)
    if (at === undefined) continue
    if (at.exact) return { ...p, source: doc.name, line: at.line, column: at.column }
    if (best === undefined || at.depth > best.depth) best = { doc, line: at.line, column: at.column, depth: at.depth }
  }
  return best === undefined ? p : { ...p, source: best.doc.name, line: best.line, column: best.column }
}

export interface ParseRolloutSpecOptions extends OverlayOptions {
  /** Default: YAML (which also reads JSON); `"json"` insists on strict JSON. */
  readonly format?: SpecFormat
  /** The file name shown in problem locations (default `spec.yaml` / `spec.json`). */
  readonly source?: string
}

/**
 * Parses a Rollout document from YAML/JSON text, applies `values` overlays and `set` expressions
 * in order, then decodes it. Never throws: syntax errors, bad overlays and invalid fields all
 * come back as one {@link SpecError}, each problem with its path and, when known, its location.
 */
export function parseRolloutSpec(
  text: string,
  options: ParseRolloutSpecOptions = {}
): Result.Result<RolloutSpec, SpecError> {
  try {
    const base = parseSourceDocument(text, {
      ...(options.format !== undefined ? { format: options.format } : {}),
      ...(options.source !== undefined ? { name: options.source } : {})
    })
    if (Result.isFailure(base)) return Result.fail(base.failure)
    const applied = applyOverlaysTo(base.success, options)
    if (Result.isFailure(applied)) return Result.fail(applied.failure)
    const decoded = decodeRolloutSpecLocated(applied.success.value)
    if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
    return Result.fail(new SpecError({ problems: decoded.failure.map((p) => locateProblem(applied.success, p)) }))
  } catch (e) {
    return Result.fail(
      problem({
        path: "",
        message: `internal error while parsing the spec: ${e instanceof Error ? e.message : String(e)}`
      })
    )
  }
}

/** {@link parseRolloutSpec} as an Effect failing with {@link SpecError}. */
export const parseRolloutSpecEffect = (
  text: string,
  options?: ParseRolloutSpecOptions
): Effect.Effect<RolloutSpec, SpecError> => Effect.suspend(() => Effect.fromResult(parseRolloutSpec(text, options)))
