import fc from "fast-check"
import { stringify } from "yaml"
import { applyTextEdit, arbTextEdit, jsonText, type TextEdit } from "./mutate.js"

// YAML-only edits of a document's text, shared by the fuzz tests of every YAML reader (the spec
// reader in core, the policy harness's input files): duplicated keys, `__proto__` keys, anchors
// and aliases (swapped, undefined, self-referencing, alias bombs, merge keys), tags, nesting by
// indentation, several documents, and the generic text edits of mutate.ts.

export type YamlEdit =
  | { readonly op: "dupKey"; readonly line: number }
  | { readonly op: "protoKey"; readonly line: number; readonly key: string }
  | { readonly op: "aliasSwap"; readonly a: number; readonly b: number }
  | { readonly op: "undefinedAlias"; readonly line: number }
  | { readonly op: "selfAlias"; readonly line: number }
  | { readonly op: "aliasBomb"; readonly levels: number; readonly width: number }
  | { readonly op: "mergeKey"; readonly line: number }
  | { readonly op: "tag"; readonly line: number; readonly tag: string }
  | { readonly op: "deepBlock"; readonly line: number; readonly depth: number }
  | { readonly op: "multiDoc" }
  | { readonly op: "text"; readonly edit: TextEdit }

const YAML_SNIPPETS = [
  "\t",
  "\u0000",
  "\uFEFF",
  "\uD800",
  ": ",
  "- ",
  "? ",
  "{",
  "[",
  "}",
  "]",
  '"',
  "'",
  "#",
  "&a ",
  "*a",
  "!!",
  "%YAML 1.1\n",
  "%TAG ! tag:x,2000:\n",
  "---\n",
  "...\n",
  "\\",
  "\r",
  "\u2028",
  "\u0085",
  "|\n",
  ">-\n",
  "@",
  "`",
  "<<: ",
  "\n  ",
  "\n- ",
  " #",
  "0x",
  ".inf",
  "1e999"
]

const TAGS = [
  "!!binary aGVsbG8=",
  "!!set {a, b}",
  "!!omap [a: 1, b: 2]",
  "!!pairs [a: 1]",
  "!!timestamp 2001-12-14t21:59:43.10-05:00",
  "!custom value",
  "!!js/function 'function () {}'",
  "!!python/object:os.system ls",
  "!!float .nan",
  "!!int 0o17",
  "!!str 1",
  "!!map {}",
  "!!seq []",
  "!!null ''",
  "!<tag:yaml.org,2002:str> x",
  "!!bool yes"
]

export const arbYamlEdit: fc.Arbitrary<YamlEdit> = fc.oneof(
  fc.record({ op: fc.constant("dupKey" as const), line: fc.nat() }),
  fc.record({
    op: fc.constant("protoKey" as const),
    line: fc.nat(),
    key: fc.constantFrom(
      "__proto__: {polluted: yes}",
      "constructor: {prototype: {polluted: yes}}",
      "prototype: {polluted: yes}",
      '"__proto__": [1]',
      "? __proto__\n"
    )
  }),
  fc.record({ op: fc.constant("aliasSwap" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant("undefinedAlias" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("selfAlias" as const), line: fc.nat() }),
  fc.record({
    op: fc.constant("aliasBomb" as const),
    levels: fc.integer({ min: 2, max: 12 }),
    width: fc.integer({ min: 2, max: 12 })
  }),
  fc.record({ op: fc.constant("mergeKey" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("tag" as const), line: fc.nat(), tag: fc.constantFrom(...TAGS) }),
  fc.record({ op: fc.constant("deepBlock" as const), line: fc.nat(), depth: fc.integer({ min: 50, max: 150 }) }),
  fc.constant({ op: "multiDoc" as const }),
  fc.record({ op: fc.constant("text" as const), edit: arbTextEdit(YAML_SNIPPETS) })
)

/** `indent`, optional `- `, key, optional inline value of a block-style line. */
const KEY_LINE = /^(\s*)(- )?([^\s:#'"&*!|>{}[\],][^:#]*?):(?: (.*))?$/

interface KeyLine {
  readonly index: number
  readonly column: number
  readonly key: string
  readonly value: string | undefined
}

const keyLines = (lines: ReadonlyArray<string>): Array<KeyLine> =>
  lines.flatMap((line, index) => {
    const m = KEY_LINE.exec(line)
    if (m === null) return []
    return [{ index, column: m[1]!.length + (m[2]?.length ?? 0), key: m[3]!, value: m[4] }]
  })

export const applyYamlEdit = (text: string, e: YamlEdit): string => {
  if (e.op === "text") return applyTextEdit(text, e.edit)
  if (e.op === "multiDoc") return `${text}\n---\n${text}`
  if (e.op === "aliasBomb") {
    const items = (prev: string) => `[${Array.from({ length: e.width }, () => prev).join(", ")}]`
    const defs = Array.from(
      { length: e.levels },
      (_, i) => `zzbomb${i}: &b${i} ${items(i === 0 ? "lol" : `*b${i - 1}`)}`
    )
    return `${defs.join("\n")}\n${text}`
  }
  const lines = text.split("\n")
  const keys = keyLines(lines)
  if (keys.length === 0) return text
  const pick = (n: number) => keys[n % keys.length]!
  const pad = (n: number) => " ".repeat(n)
  const withValue = keys.filter((k) => k.value !== undefined && k.value !== "")
  switch (e.op) {
    case "dupKey": {
      const k = pick(e.line)
      lines.splice(k.index + 1, 0, `${pad(k.column)}${k.key}: 0`)
      break
    }
    case "protoKey": {
      const k = pick(e.line)
      lines.splice(k.index + 1, 0, `${pad(k.column)}${e.key}`)
      break
    }
    case "aliasSwap": {
      if (withValue.length === 0) return text
      const a = withValue[e.a % withValue.length]!
      const b = withValue[e.b % withValue.length]!
      lines[a.index] = lines[a.index]!.replace(/: (.*)$/, ": &x1 $1")
      lines[b.index] = lines[b.index]!.replace(/: (.*)$/, ": *x1")
      break
    }
    case "undefinedAlias": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: *nowhere`
      break
    }
    case "selfAlias": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: &self [*self]`
      break
    }
    case "mergeKey": {
      const k = pick(e.line)
      lines.unshift("zzmerge: &m {__proto__: {polluted: yes}, kind: Job, apiVersion: 7}")
      lines.splice(k.index + 2, 0, `${pad(k.column)}<<: *m`)
      break
    }
    case "tag": {
      const k = pick(e.line)
      lines[k.index] = `${lines[k.index]!.replace(/:(?: .*)?$/, "")}: ${e.tag}`
      break
    }
    case "deepBlock": {
      // Nesting by indentation (block style), which the flow-style nesting of mutate.ts does not reach.
      const k = pick(e.line)
      const block = Array.from({ length: e.depth }, (_, i) => `${pad(k.column + 2 * (i + 1))}a${i}:`)
      lines[k.index] = lines[k.index]!.replace(/:(?: .*)?$/, ":")
      lines.splice(k.index + 1, 0, ...block)
      break
    }
  }
  return lines.join("\n")
}

const depthOf = (v: unknown, limit: number): number => {
  if (typeof v !== "object" || v === null || limit === 0) return 0
  let max = 0
  for (const child of Object.values(v)) max = Math.max(max, depthOf(child, limit - 1))
  return max + 1
}

/**
 * YAML text of any value: `yaml`'s block style, or JSON (flow style, which YAML reads) for a deep
 * value (block style indents each level further: a 1,000-deep value would be megabytes of spaces)
 * or one `yaml` cannot write. Deep block nesting has its own edit (`deepBlock`).
 */
export const toYaml = (value: unknown): string => {
  if (depthOf(value, 40) >= 40) return jsonText(value)
  try {
    return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 }) ?? "null"
  } catch {
    return jsonText(value)
  }
}
