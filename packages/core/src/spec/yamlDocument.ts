import {
  type Alias,
  Composer,
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Pair,
  type ParsedNode,
  Parser,
  type YAMLMap,
  type YAMLSeq
} from "yaml"
import type { PathSegment } from "./SpecError.js"

/*
 * YAML text → a plain JS value plus a locator, in time linear in the text.
 *
 * Why not `parseDocument(text, { uniqueKeys: true }).toJS()`: profiled on large specs, the
 * `yaml` package's duplicate-key check compares each key with every earlier key of its mapping
 * (a 250 KB spec with 20,000 labels spent seconds there), `toJS` resolves each alias by scanning
 * every earlier anchor and alias, deep nesting overflows the composer's recursion (reported as
 * "Maximum call stack size exceeded") and makes its parser slow, and the alias-count guard
 * throws without a location. Here the text goes through the `yaml` lexer, parser and composer
 * (the nesting depth checked on the way), then one iterative walk over the composed nodes
 * builds the value and finds duplicate keys, circular aliases and alias bombs, each at an offset.
 */

/** Collections nested deeper than this are refused: no Rollout document comes close (≈ 8). */
export const MAX_NESTING = 100

const COLLECTION_TOKENS: ReadonlySet<string> = new Set(["block-map", "block-seq", "flow-collection"])

/** Aliases may add at most this many nodes, or as many as the document has itself if more. */
const MIN_ALIAS_EXPANSION_BUDGET = 10_000

export interface YamlProblem {
  /** Offset in the text. */
  readonly offset: number
  readonly message: string
  /** A syntax error (as opposed to a structural one found after composing). */
  readonly syntax: boolean
}

export interface YamlSource {
  readonly value: unknown
  readonly problems: ReadonlyArray<YamlProblem>
  /** 1-based line/column of an offset. */
  readonly linePos: (offset: number) => { line: number; column: number }
  /** The offset of the deepest node on `path`, how many segments were found, and whether all were. */
  readonly locate: (path: ReadonlyArray<PathSegment>) => { offset: number; depth: number; exact: boolean }
}

type Collection = YAMLMap<unknown, unknown> | YAMLSeq<unknown>

const startOf = (node: unknown): number | undefined =>
  (node as { range?: readonly [number, number, number] } | null | undefined)?.range?.[0]

/** The JS property name `yaml` gives a scalar key (`null` → `""`, numbers and booleans as text). */
const keyName = (value: unknown): string => (value === null || value === undefined ? "" : String(value))

/**
 * Lexes, parses (refusing nesting deeper than {@link MAX_NESTING}) and composes `text` into
 * its first document. More than one document is a problem.
 */
function compose(
  text: string,
  counter: LineCounter
): { doc: Document.Parsed | undefined; problems: Array<YamlProblem> } {
  const parser = new Parser(counter.addNewLine)
  counter.addNewLine(0)
  let tooDeepAt: number | undefined
  // The parser's stack holds the document, the open collections and the token being read: the
  // collections are counted only when the stack is long enough to hold too many of them.
  const openCollections = () => parser.stack.reduce((n, token) => (COLLECTION_TOKENS.has(token.type) ? n + 1 : n), 0)
  function* tokens() {
    for (const lexeme of new Lexer().lex(text)) {
      const at = parser.offset
      yield* parser.next(lexeme)
      if (parser.stack.length > MAX_NESTING && openCollections() > MAX_NESTING) {
        // Where the innermost collection starts (a block mapping's first key, a `[`, a `-`).
        const innermost = parser.stack.findLast((token) => COLLECTION_TOKENS.has(token.type))
        tooDeepAt = innermost?.offset ?? at
        return
      }
    }
    yield* parser.end()
  }
  const composer = new Composer({ version: "1.2", uniqueKeys: false })
  let doc: Document.Parsed | undefined
  const problems: Array<YamlProblem> = []
  for (const next of composer.compose(tokens(), true, text.length)) {
    if (doc === undefined) {
      doc = next
      continue
    }
    problems.push({
      offset: next.range[0],
      message: "the source contains multiple documents (one Rollout document per source)",
      syntax: true
    })
    break
  }
  if (tooDeepAt !== undefined) {
    return {
      doc: undefined,
      problems: [
        {
          offset: tooDeepAt,
          message: `mappings and lists nested more than ${MAX_NESTING} levels deep`,
          syntax: true
        }
      ]
    }
  }
  for (const err of doc?.errors ?? []) problems.push({ offset: err.pos[0], message: err.message, syntax: true })
  problems.sort((a, b) => a.offset - b.offset)
  return { doc, problems }
}

interface Frame {
  readonly node: Collection
  readonly out: Record<string, unknown> | Array<unknown>
  index: number
  /** Nodes of the subtree with every alias expanded, so far. */
  size: number
  readonly isMap: boolean
}

/**
 * Sets a new own enumerable property, also for names like `__proto__` or `constructor` (as
 * `yaml`'s toJS does). `out` is a plain object without that own property yet, so only the
 * prototype can already have the name.
 */
function setProperty(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key in Object.prototype) {
    Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true })
  } else out[key] = value
}

/**
 * The document's value, iteratively (no recursion: depth costs no stack). Problems: duplicate
 * keys, keys that are collections, circular aliases, aliases that expand the document beyond
 * its budget. Returns the node each alias stands for, for the locator.
 */
function toValue(doc: Document.Parsed): {
  value: unknown
  problems: Array<YamlProblem>
  aliasTargets: Map<Alias, ParsedNode>
} {
  const problems: Array<YamlProblem> = []
  const anchors = new Map<string, ParsedNode>()
  const anchoredValues = new Map<ParsedNode, unknown>()
  const anchoredSizes = new Map<ParsedNode, number>()
  const aliasTargets = new Map<Alias, ParsedNode>()
  const open = new Set<ParsedNode>()
  const stack: Array<Frame> = []
  let ownNodes = 0
  // Each alias replaces itself (one node) with its target's expanded subtree: the expanded
  // document is ownNodes + Σ (size(target) − 1) over the aliases, in document order.
  const expansions: Array<{ offset: number; extra: number }> = []
  let extra = 0

  /** The value of a node; a collection is opened as a frame and its (still empty) container returned. */
  const enter = (node: unknown): { value: unknown; size: number } => {
    if (node === null || node === undefined) return { value: null, size: 1 }
    ownNodes++
    const anchor = (node as { anchor?: string }).anchor
    if (anchor !== undefined && anchor !== "") anchors.set(anchor, node as ParsedNode)
    if (isScalar(node)) {
      if (anchor !== undefined) {
        anchoredValues.set(node as ParsedNode, node.value)
        anchoredSizes.set(node as ParsedNode, 1)
      }
      return { value: node.value, size: 1 }
    }
    if (isAlias(node)) {
      const offset = startOf(node) ?? 0
      const target = anchors.get(node.source)
      if (target === undefined) {
        problems.push({
          offset,
          message: `unknown alias *${node.source} (no anchor &${node.source} before it)`,
          syntax: false
        })
        return { value: null, size: 1 }
      }
      aliasTargets.set(node, target)
      if (open.has(target)) {
        problems.push({
          offset,
          message: `circular alias: *${node.source} refers to &${node.source}, which contains it`,
          syntax: false
        })
        return { value: null, size: 1 }
      }
      const size = anchoredSizes.get(target) ?? 1
      extra += size - 1
      expansions.push({ offset, extra })
      return { value: anchoredValues.get(target), size }
    }
    if (isMap(node) || isSeq(node)) {
      const out: Record<string, unknown> | Array<unknown> = isMap(node) ? {} : []
      if (anchor !== undefined) {
        anchoredValues.set(node as ParsedNode, out)
        open.add(node as ParsedNode)
      }
      stack.push({ node, out, index: 0, size: 1, isMap: isMap(node) })
      return { value: out, size: 0 }
    }
    problems.push({ offset: startOf(node) ?? 0, message: "unsupported YAML node", syntax: false })
    return { value: null, size: 1 }
  }

  /** A mapping key's property name; undefined (with a problem) when the key is not a scalar. */
  const keyOf = (key: unknown): string | undefined => {
    if (key === null || key === undefined) return ""
    let scalar: unknown = key
    if (isAlias(key)) {
      ownNodes++
      scalar = anchors.get(key.source)
      if (scalar === undefined) {
        problems.push({
          offset: startOf(key) ?? 0,
          message: `unknown alias *${key.source} (no anchor &${key.source} before it)`,
          syntax: false
        })
        return undefined
      }
      aliasTargets.set(key, scalar as ParsedNode)
    } else if (isScalar(key)) enter(key)
    if (isScalar(scalar)) return keyName(scalar.value)
    problems.push({
      offset: startOf(key) ?? 0,
      message: "a mapping key must be a string or a number, not a mapping or a list",
      syntax: false
    })
    return undefined
  }

  const root = enter(doc.contents)
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!
    const items = frame.node.items as ReadonlyArray<unknown>
    if (frame.index >= items.length) {
      stack.pop()
      const node = frame.node as ParsedNode
      if (open.delete(node)) anchoredSizes.set(node, frame.size)
      const parent = stack[stack.length - 1]
      if (parent !== undefined) parent.size += frame.size
      continue
    }
    const item = items[frame.index++]
    if (frame.isMap) {
      const pair = item as Pair<unknown, unknown>
      const key = keyOf(pair.key)
      if (key === undefined) continue
      // The object under construction is the set of keys seen so far.
      if (Object.hasOwn(frame.out, key)) {
        // The same message `yaml` gives with uniqueKeys.
        problems.push({
          offset: startOf(pair.key) ?? startOf(frame.node) ?? 0,
          message: "Map keys must be unique",
          syntax: true
        })
        continue
      }
      frame.size++
      const { value, size } = enter(pair.value)
      frame.size += size
      setProperty(frame.out as Record<string, unknown>, key, value)
    } else {
      // A pair in a flow sequence (`[a: 1]`) is composed as a one-pair mapping already.
      const { value, size } = enter(isPair(item) ? item.value : item)
      frame.size += size
      ;(frame.out as Array<unknown>).push(value)
    }
  }

  const budget = Math.max(MIN_ALIAS_EXPANSION_BUDGET, ownNodes)
  const crossing = expansions.find((e) => e.extra > budget)
  if (crossing !== undefined) {
    problems.push({
      offset: crossing.offset,
      message: `aliases expand the document by more than ${budget} nodes (it has ${ownNodes} of its own; a guard against alias bombs)`,
      syntax: false
    })
  }
  problems.sort((a, b) => a.offset - b.offset)
  return { value: root.value, problems, aliasTargets }
}

/** Finds nodes by path (mapping keys by their property name, aliases followed), lazily indexing each mapping once. */
function locator(doc: Document.Parsed, aliasTargets: ReadonlyMap<Alias, ParsedNode>): YamlSource["locate"] {
  const indexes = new WeakMap<object, Map<string, Pair<unknown, unknown>>>()
  const indexOf = (map: YAMLMap<unknown, unknown>): Map<string, Pair<unknown, unknown>> => {
    let index = indexes.get(map)
    if (index === undefined) {
      index = new Map()
      for (const pair of map.items) {
        const key = isAlias(pair.key) ? aliasTargets.get(pair.key) : pair.key
        const name = key === null || key === undefined ? "" : isScalar(key) ? keyName(key.value) : undefined
        if (name !== undefined && !index.has(name)) index.set(name, pair)
      }
      indexes.set(map, index)
    }
    return index
  }
  return (path) => {
    let node: unknown = doc.contents
    let offset = startOf(doc.contents) ?? 0
    let depth = 0
    let exact = true
    for (const seg of path) {
      // One step: an anchor sits on a scalar or a collection, never on an alias.
      if (isAlias(node)) node = aliasTargets.get(node)
      if (isMap(node)) {
        const pair = indexOf(node).get(String(seg))
        if (pair === undefined) {
          exact = false
          break
        }
        offset = startOf(pair.key) ?? offset
        node = pair.value
        depth++
      } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
        node = node.items[seg]
        offset = startOf(node) ?? offset
        depth++
      } else {
        exact = false
        break
      }
    }
    return { offset, depth, exact }
  }
}

/** Reads YAML (1.2, which includes JSON) text: its value, problems, and where paths are. */
export function readYaml(text: string): YamlSource {
  const counter = new LineCounter()
  const linePos = (offset: number) => {
    const pos = counter.linePos(offset)
    return { line: pos.line, column: pos.col }
  }
  const composed = compose(text, counter)
  if (composed.doc === undefined || composed.problems.length > 0) {
    return {
      value: undefined,
      problems: composed.problems,
      linePos,
      locate: () => ({ offset: 0, depth: 0, exact: false })
    }
  }
  const doc = composed.doc
  const converted = toValue(doc)
  return { value: converted.value, problems: converted.problems, linePos, locate: locator(doc, converted.aliasTargets) }
}
