import type { SchemaIssue } from "effect"
import fc from "fast-check"

// Shared by every package's fuzz tests (test/fuzz/ in core, policies and the adapters): the case
// budget, the per-family counters and summary line, the prototype-pollution check, and fast-check
// arbitraries that turn a VALID document into a hostile one (deletions, wrong types, huge numbers,
// deep nesting, `__proto__`/`constructor`/`prototype` keys, lone surrogates, invalid UTF-8, very
// long strings; duplicated keys in JSON text). The documents start valid so that the decoders get
// past their first check and the mutation reaches the code behind it.

// ---------------------------------------------------------------------------------------------
// Case budget
// ---------------------------------------------------------------------------------------------

/**
 * `SLUICE_PROPERTY_RUNS` as the other property tests read it (CI sets 1000), default 100 here: the
 * fuzz families scale it by a factor each, chosen so that CI runs more than 100,000 cases in total
 * and a plain local `vitest run` a tenth of that.
 */
export const propertyRuns = (() => {
  const n = Number(process.env.SLUICE_PROPERTY_RUNS ?? "100")
  return Number.isSafeInteger(n) && n > 0 ? n : 100
})()

/** Cases for one property: `factor` × {@link propertyRuns}, at least 1. */
export const fuzzRuns = (factor: number): number => Math.max(1, Math.round(propertyRuns * factor))

/**
 * Vitest's timeout for one fuzz property (the projects' 60 s is for ordinary tests): a safety net
 * against a hang, far above what the case counts take (nothing asserts how long they take).
 */
export const FUZZ_TIMEOUT_MS = 15 * 60_000

/**
 * Counts the cases each property really ran (shrinking included) and prints one summary line per
 * family, e.g. `fuzz summary: spec documents 35000 cases (yaml 15000, json 10000, object 10000) in 41.2s`,
 * which the notes quote. The time is reported, never asserted.
 */
export class FuzzCounter {
  private readonly counts = new Map<string, number>()
  private readonly outcomes = new Map<string, number>()
  private readonly started = performance.now()
  constructor(readonly family: string) {}
  hit(kind: string): void {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1)
  }
  /** How cases ended (accepted, rejected, each error kind): shows the mutations reach past the first check. */
  outcome(kind: string): void {
    this.outcomes.set(kind, (this.outcomes.get(kind) ?? 0) + 1)
  }
  get total(): number {
    let n = 0
    for (const c of this.counts.values()) n += c
    return n
  }
  summary(): string {
    const list = (m: Map<string, number>) => [...m].map(([k, n]) => `${k} ${n}`).join(", ")
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1)
    const outcomes = this.outcomes.size > 0 ? `; outcomes: ${list(this.outcomes)}` : ""
    return `fuzz summary: ${this.family} ${this.total} cases (${list(this.counts)}${outcomes}) in ${seconds}s at SLUICE_PROPERTY_RUNS=${propertyRuns}`
  }
}

// ---------------------------------------------------------------------------------------------
// Prototype pollution
// ---------------------------------------------------------------------------------------------

const PROTOTYPES: ReadonlyArray<[string, object]> = [
  ["Object.prototype", Object.prototype],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype]
]
const snapshot = () => PROTOTYPES.map(([name, p]) => `${name}: ${Reflect.ownKeys(p).map(String).sort().join(",")}`)
const pristine = snapshot()

/**
 * Throws when a built-in prototype gained (or lost) a property since this module loaded, or when
 * a fresh object inherits the key the mutations plant (`polluted`). Cheap enough to run per case.
 */
export const assertNoPrototypePollution = (): void => {
  const probe: Record<string, unknown> = {}
  if (probe.polluted !== undefined || "polluted" in probe || Object.getPrototypeOf(probe) !== Object.prototype)
    throw new Error("prototype pollution: a fresh object inherits `polluted`")
  const now = snapshot()
  for (let i = 0; i < now.length; i++) {
    if (now[i] !== pristine[i]) throw new Error(`prototype pollution:\n  before ${pristine[i]}\n  after  ${now[i]}`)
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-like trees
// ---------------------------------------------------------------------------------------------

export type Segment = string | number
export type Path = ReadonlyArray<Segment>

const isContainer = (v: unknown): v is Record<string, unknown> | Array<unknown> => typeof v === "object" && v !== null

/** Defines an own, enumerable property: `__proto__` stays a key (as `JSON.parse` and YAML make it). */
export const put = (target: object, key: Segment, value: unknown): void => {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/** A deep copy of a JSON-like tree that keeps `__proto__` keys as own data (unlike spreading). */
export const clone = (v: unknown): unknown => {
  if (!isContainer(v)) return v
  if (Array.isArray(v)) return v.map(clone)
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) put(out, k, clone(v[k]))
  return out
}

/**
 * Every path of a tree, the root (`[]`) included; depth-limited and (for long lists) breadth-limited
 * so that a deep or long value planted by an earlier mutation stays cheap to walk.
 */
export const pathsOf = (value: unknown, at: Path = [], out: Array<Path> = [], maxDepth = 12): Array<Path> => {
  out.push(at)
  if (!isContainer(value) || at.length >= maxDepth) return out
  const keys: Array<Segment> = Array.isArray(value)
    ? Array.from({ length: Math.min(value.length, 32) }, (_, i) => i)
    : Object.keys(value).slice(0, 64)
  for (const k of keys) pathsOf((value as Record<Segment, unknown>)[k], [...at, k], out, maxDepth)
  return out
}

/** The own value at `path`, or `undefined`. */
export const getAt = (root: unknown, path: Path): unknown => {
  let cur = root
  for (const seg of path) {
    if (!isContainer(cur) || !Object.hasOwn(cur, seg)) return undefined
    cur = (cur as Record<Segment, unknown>)[seg]
  }
  return cur
}

/** `true` when `path` names a node of `root`, or a missing key of a node that exists (a missing field). */
export const pathLandsIn = (root: unknown, path: Path): boolean => {
  let cur = root
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!
    if (!isContainer(cur)) return false
    if (!Object.hasOwn(cur, seg)) return i === path.length - 1
    cur = (cur as Record<Segment, unknown>)[seg]
  }
  return true
}

/** `a` is a prefix of `b` or `b` of `a` (segments compared as strings: `0` and `"0"` are one key). */
export const related = (a: Path, b: Path): boolean => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false
  return true
}

// ---------------------------------------------------------------------------------------------
// Hostile values
// ---------------------------------------------------------------------------------------------

/** Wraps `leaf` in `depth` arrays or single-key objects. */
export const nest = (depth: number, kind: "array" | "object", leaf: unknown = 1): unknown => {
  let v = leaf
  for (let i = 0; i < depth; i++) v = kind === "array" ? [v] : { a: v }
  return v
}

/** An object whose own keys are `__proto__` / `constructor` / `prototype`, planting `polluted`. */
export const protoKeyObject = (key: "__proto__" | "constructor" | "prototype"): Record<string, unknown> => {
  const o: Record<string, unknown> = {}
  const payload = key === "constructor" ? { prototype: { polluted: "yes" } } : { polluted: "yes" }
  put(o, key, payload)
  return o
}

const decoder = new TextDecoder()

/** Strings from any UTF-16 code units: lone surrogates, NUL, C1 controls, BOM, U+2028. */
export const anyCodeUnits = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0xffff }),
      fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff, 0x0000, 0xfeff, 0x2028, 0x0085, 0xfffe)
    ),
    { maxLength: 24 }
  )
  .map((units) => String.fromCharCode(...units))

/** What a reader gets from bytes that are not UTF-8 (decoded non-fatally: U+FFFD where they broke). */
export const invalidUtf8Decoded = fc
  .array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xc0, 0xc1, 0xed, 0xf5, 0xff, 0x80)), {
    minLength: 1,
    maxLength: 24
  })
  .map((bytes) => decoder.decode(new Uint8Array(bytes)))

export const hugeNumber = fc.oneof(
  fc.constantFrom(
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53) - 2,
    2 ** 64,
    1e21,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.NaN,
    2 ** 31,
    -(2 ** 31) - 1,
    0.1 + 0.2
  ),
  fc.double()
)

/** Very long strings (256 to 50,000 repetitions of a unit, up to 150k code units): plain, multi-byte, a lone surrogate... */
export const longString = fc
  .tuple(
    fc.constantFrom("a", "é", "\u{1F600}", "\uD800", "%s", "{{x}}", "1", " ", "\n", "/.."),
    fc.integer({ min: 256, max: 50_000 })
  )
  .map(([unit, n]) => unit.repeat(n))

/** A value of the wrong type or an edge value, for any position. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, "", "0", "true", "null", "~", [], {}, [null], {
      "": null
    })
  },
  { weight: 3, arbitrary: hugeNumber },
  { weight: 1, arbitrary: longString },
  { weight: 2, arbitrary: anyCodeUnits },
  { weight: 2, arbitrary: invalidUtf8Decoded },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 50, max: 1500 }), fc.constantFrom("array" as const, "object" as const))
      .map(([d, k]) => nest(d, k))
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom("__proto__" as const, "constructor" as const, "prototype" as const).map(protoKeyObject)
  },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  // A long list, built at once (fast-check would draw and keep each element for shrinking).
  { weight: 1, arbitrary: fc.integer({ min: 500, max: 2000 }).map((n) => new Array<unknown>(n).fill("x")) }
)

// ---------------------------------------------------------------------------------------------
// Mutations of a tree
// ---------------------------------------------------------------------------------------------

export type Mutation =
  | { readonly op: "delete" }
  | { readonly op: "replace"; readonly value: unknown }
  | { readonly op: "nest"; readonly depth: number; readonly kind: "array" | "object" }
  | { readonly op: "addKey"; readonly key: string; readonly value: unknown }
  | { readonly op: "duplicateItem"; readonly times: number }

/** Mutations; `addKey` also plants `extraKeys` (fields the document's reader knows but the valid document lacks). */
export const arbMutationWith = (extraKeys: ReadonlyArray<string> = []): fc.Arbitrary<Mutation> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant({ op: "delete" as const }) },
    { weight: 6, arbitrary: hostileValue.map((value) => ({ op: "replace" as const, value })) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("nest" as const),
        depth: fc.integer({ min: 1, max: 1200 }),
        kind: fc.constantFrom("array" as const, "object" as const)
      })
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant("addKey" as const),
        key: fc.oneof(
          fc.constantFrom(
            "__proto__",
            "constructor",
            "prototype",
            "toString",
            "hasOwnProperty",
            "valueOf",
            "",
            ...extraKeys
          ),
          anyCodeUnits,
          fc.string({ maxLength: 12 })
        ),
        value: hostileValue
      })
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant("duplicateItem" as const), times: fc.integer({ min: 1, max: 300 }) })
    }
  )

/** One mutation at one place: `pick` chooses the path among the tree's paths. */
export interface PlacedMutation {
  readonly pick: number
  readonly mutation: Mutation
}

export const arbMutation: fc.Arbitrary<Mutation> = arbMutationWith()

export const arbPlacedMutations = (
  max = 3,
  extraKeys: ReadonlyArray<string> = []
): fc.Arbitrary<ReadonlyArray<PlacedMutation>> =>
  fc.array(fc.record({ pick: fc.nat(), mutation: extraKeys.length > 0 ? arbMutationWith(extraKeys) : arbMutation }), {
    minLength: 1,
    maxLength: max
  })

/** Applies `m` at `path` of `root` in place (the root itself is replaced through the returned value). */
export const applyAt = (root: unknown, path: Path, m: Mutation): unknown => {
  const current = getAt(root, path)
  const next = (): unknown => {
    switch (m.op) {
      case "delete":
        return DELETE
      // Values are copied in: fast-check hands out the same constant objects to many cases, and a
      // later mutation must not change them (nor plant a value inside itself, making a cycle).
      case "replace":
        return clone(m.value)
      case "nest":
        return nest(m.depth, m.kind, current)
      case "addKey": {
        if (!isContainer(current) || Array.isArray(current)) return current
        put(current, m.key, clone(m.value))
        return current
      }
      case "duplicateItem": {
        if (!Array.isArray(current) || current.length === 0) return current
        const copies = Array.from({ length: m.times }, () => clone(current[0]))
        return [...current, ...copies]
      }
    }
  }
  const value = next()
  if (path.length === 0) return value === DELETE ? undefined : value
  const parent = getAt(root, path.slice(0, -1))
  const key = path[path.length - 1]!
  if (!isContainer(parent)) return root
  if (value === DELETE) {
    if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1)
    else delete (parent as Record<Segment, unknown>)[key]
  } else if (value !== current) put(parent, key, value)
  return root
}
const DELETE = Symbol("delete")

/**
 * Applies the mutations to a copy of `doc`, each at the path its `pick` selects among the paths of
 * the tree as it is by then; returns the mutated tree and the paths touched.
 */
export const mutate = (
  doc: unknown,
  mutations: ReadonlyArray<PlacedMutation>
): { readonly value: unknown; readonly touched: ReadonlyArray<Path> } => {
  let value = clone(doc)
  const touched: Array<Path> = []
  for (const { pick, mutation } of mutations) {
    const paths = pathsOf(value)
    const path = paths[pick % paths.length]!
    value = applyAt(value, path, mutation)
    touched.push(path)
  }
  return { value, touched }
}

// ---------------------------------------------------------------------------------------------
// JSON text
// ---------------------------------------------------------------------------------------------

/**
 * JSON text of `value` in which the object at `dupAt` (if it is one with a key) repeats its first
 * key with `dupValue` after its own members: JSON.parse keeps the last one, a strict reader may
 * refuse it; either way the reader must not crash.
 */
export const jsonWithDuplicateKey = (value: unknown, dupAt: Path, dupValue: unknown): string => {
  // Walks only along `dupAt` (a few levels); everything else is written by JSON.stringify.
  const write = (v: unknown, at: Path): string => {
    if (!isContainer(v) || at.length > dupAt.length || !related(at, dupAt)) return jsonText(v)
    if (Array.isArray(v)) return `[${v.map((x, i) => write(x, [...at, i])).join(",")}]`
    const keys = Object.keys(v)
    const members = keys.map((k) => `${JSON.stringify(k)}:${write(v[k], [...at, k])}`)
    if (keys.length > 0 && at.length === dupAt.length && related(at, dupAt))
      members.push(`${JSON.stringify(keys[0])}:${jsonText(dupValue)}`)
    return `{${members.join(",")}}`
  }
  return write(value, [])
}

/**
 * JSON text of a mutated value. Stacked nesting mutations can go deeper than JSON.stringify's
 * recursion allows: such a value is written as the 5,000-deep list it stands for (deep nesting is
 * what it was generated to be).
 */
export const jsonText = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? "null"
  } catch {
    return `${"[".repeat(5000)}${"]".repeat(5000)}`
  }
}

const encoder = new TextEncoder()

/** Edits of a document's text: truncation, deletions, insertions, broken UTF-8, repetition. */
export type TextEdit =
  | { readonly op: "truncate"; readonly at: number }
  | { readonly op: "deleteRange"; readonly at: number; readonly length: number }
  | { readonly op: "insert"; readonly at: number; readonly text: string }
  | { readonly op: "flipByte"; readonly at: number; readonly xor: number }
  | { readonly op: "insertBytes"; readonly at: number; readonly bytes: ReadonlyArray<number> }
  | { readonly op: "repeat"; readonly times: number }

export const arbTextEdit = (snippets: ReadonlyArray<string>): fc.Arbitrary<TextEdit> =>
  fc.oneof(
    fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ op: fc.constant("deleteRange" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
    fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      text: fc.oneof(fc.constantFrom(...snippets), anyCodeUnits, fc.string({ maxLength: 8 }))
    }),
    fc.record({ op: fc.constant("flipByte" as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
    fc.record({
      op: fc.constant("insertBytes" as const),
      at: fc.nat(),
      bytes: fc.array(fc.constantFrom(0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0xf4, 0x90, 0x00), {
        minLength: 1,
        maxLength: 4
      })
    }),
    fc.record({ op: fc.constant("repeat" as const), times: fc.integer({ min: 2, max: 3 }) })
  )

/** Applies a text edit; byte edits go through UTF-8 and back, non-fatally, as a file reader would. */
export const applyTextEdit = (text: string, e: TextEdit): string => {
  const pos = (n: number, len: number) => (len === 0 ? 0 : n % (len + 1))
  switch (e.op) {
    case "truncate":
      return text.slice(0, pos(e.at, text.length))
    case "deleteRange": {
      const at = pos(e.at, text.length)
      return text.slice(0, at) + text.slice(at + e.length)
    }
    case "insert": {
      const at = pos(e.at, text.length)
      return text.slice(0, at) + e.text + text.slice(at)
    }
    case "flipByte": {
      const bytes = encoder.encode(text)
      if (bytes.length === 0) return text
      const at = e.at % bytes.length
      bytes[at] = bytes[at]! ^ e.xor
      return decoder.decode(bytes)
    }
    case "insertBytes": {
      const bytes = encoder.encode(text)
      const at = pos(e.at, bytes.length)
      const out = new Uint8Array(bytes.length + e.bytes.length)
      out.set(bytes.subarray(0, at), 0)
      out.set(e.bytes, at)
      out.set(bytes.subarray(at), at + e.bytes.length)
      return decoder.decode(out)
    }
    case "repeat":
      return text.repeat(e.times)
  }
}

// ---------------------------------------------------------------------------------------------
// Schema rejections
// ---------------------------------------------------------------------------------------------

/** The path of every leaf of an effect Schema issue tree (where each problem is). */
export const issueLeafPaths = (issue: SchemaIssue.Issue, at: Path = []): Array<Path> => {
  switch (issue._tag) {
    case "Pointer":
      return issueLeafPaths(issue.issue, [...at, ...issue.path.map((k) => (typeof k === "symbol" ? String(k) : k))])
    case "Composite":
      return issue.issues.flatMap((i) => issueLeafPaths(i, at))
    case "AnyOf":
      return issue.issues.length === 0 ? [at] : issue.issues.flatMap((i) => issueLeafPaths(i, at))
    case "Filter":
    case "Encoding":
      return issueLeafPaths(issue.issue, at)
    default:
      return [at]
  }
}

const kindOf = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v)

/**
 * What a Schema rejection of a mutated document must satisfy: every problem's path lands in the
 * document (a node of it, or a missing field of one), and when the only mutation replaced a value
 * by one of another type, some problem is about that place (it, an ancestor or a descendant).
 */
export const checkRejectionPaths = (
  issue: SchemaIssue.Issue,
  original: unknown,
  mutated: unknown,
  mutations: ReadonlyArray<PlacedMutation>,
  touched: ReadonlyArray<Path>
): void => {
  const paths = issueLeafPaths(issue)
  if (paths.length === 0) throw new Error("a rejection without any problem")
  for (const p of paths)
    if (!pathLandsIn(mutated, p)) throw new Error(`problem path ${JSON.stringify(p)} is not in the document`)
  const [only] = mutations
  if (mutations.length === 1 && only !== undefined && only.mutation.op === "replace") {
    const at = touched[0]!
    if (kindOf(getAt(original, at)) !== kindOf(only.mutation.value) && !paths.some((p) => related(p, at)))
      throw new Error(
        `changed ${JSON.stringify(at)} to a ${kindOf(only.mutation.value)}; problems at ${JSON.stringify(paths)}`
      )
  }
}
