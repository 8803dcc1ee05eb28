// The light subpath, not the root: usage errors must answer without loading the core (see cli.ts).
import { didYouMean } from "@sluice/core/text"
import { UsageError } from "./errors.js"

export type OptionKind = "flag" | "string" | "list"

export interface OptionSpec {
  /** Long name without dashes, e.g. `fleet-size`. */
  readonly name: string
  readonly short?: string
  readonly kind: OptionKind
  /** Shown in help: `--store <dir>`. */
  readonly value?: string
  readonly description: string
}

export interface PositionalSpec {
  readonly name: string
  readonly required: boolean
  readonly description: string
}

export interface CommandSpec {
  /** `apply`, `policy test`, … */
  readonly name: string
  readonly summary: string
  readonly positionals: ReadonlyArray<PositionalSpec>
  readonly options: ReadonlyArray<OptionSpec>
  /** Extra help text after the options. */
  readonly details?: string
}

export interface Parsed {
  readonly flags: ReadonlySet<string>
  readonly strings: ReadonlyMap<string, string>
  readonly lists: ReadonlyMap<string, ReadonlyArray<string>>
  readonly positionals: ReadonlyArray<string>
}

export const flag = (p: Parsed, name: string) => p.flags.has(name)
export const str = (p: Parsed, name: string) => p.strings.get(name)
export const list = (p: Parsed, name: string) => p.lists.get(name) ?? []

/**
 * Parses `argv` for one command: `--name value`, `--name=value`, `-f value`, `-f=value`, repeatable
 * list options, `--` ending the options, and `-` as a plain value (stdin). Errors name the exact
 * argument and suggest the closest option.
 */
export const parseArgs = (command: CommandSpec, argv: ReadonlyArray<string>): Parsed => {
  const flags = new Set<string>()
  const strings = new Map<string, string>()
  const lists = new Map<string, string[]>()
  const positionals: string[] = []
  const byLong = new Map(command.options.map((o) => [o.name, o]))
  const byShort = new Map(command.options.filter((o) => o.short !== undefined).map((o) => [o.short!, o]))
  const fail = (message: string): never => {
    throw new UsageError({ message, command: command.name })
  }
  let i = 0
  while (i < argv.length) {
    const arg = argv[i]!
    i++
    if (arg === "--") {
      positionals.push(...argv.slice(i))
      break
    }
    if (arg === "-" || !arg.startsWith("-") || /^-\d/.test(arg)) {
      positionals.push(arg)
      continue
    }
    const long = arg.startsWith("--")
    const body = long ? arg.slice(2) : arg.slice(1)
    const eq = body.indexOf("=")
    const key = eq < 0 ? body : body.slice(0, eq)
    const inline = eq < 0 ? undefined : body.slice(eq + 1)
    const spec = long ? byLong.get(key) : byShort.get(key)
    if (spec === undefined) {
      const hint = long
        ? didYouMean(
            key,
            command.options.map((o) => o.name)
          )
        : undefined
      fail(
        `unknown option ${arg.split("=")[0]} for \`sluice ${command.name}\`${hint === undefined ? "" : ` (did you mean --${hint}?)`}`
      )
      continue
    }
    const shown = long ? `--${spec.name}` : `-${spec.short}`
    if (spec.kind === "flag") {
      if (inline !== undefined) fail(`${shown} takes no value (got "${inline}")`)
      flags.add(spec.name)
      continue
    }
    let value = inline
    if (value === undefined) {
      const next = argv[i]
      if (next === undefined || (next.startsWith("-") && next !== "-" && !/^-\d/.test(next))) {
        fail(`${shown} needs a value${spec.value === undefined ? "" : ` (${spec.value})`}`)
      }
      value = next!
      i++
    }
    if (spec.kind === "string") {
      if (strings.has(spec.name)) fail(`${shown} given twice ("${strings.get(spec.name)}" and "${value}")`)
      strings.set(spec.name, value)
    } else {
      const xs = lists.get(spec.name) ?? []
      xs.push(value)
      lists.set(spec.name, xs)
    }
  }
  const max = command.positionals.length
  const required = command.positionals.filter((p) => p.required).length
  if (!flags.has("help")) {
    if (positionals.length > max) {
      fail(
        max === 0
          ? `\`sluice ${command.name}\` takes no arguments (got "${positionals[0]}")`
          : `unexpected argument "${positionals[max]}" (\`sluice ${command.name}\` takes ${command.positionals.map((p) => `<${p.name}>`).join(" ")})`
      )
    }
    if (positionals.length < required) {
      fail(`missing <${command.positionals[positionals.length]!.name}>`)
    }
  }
  return { flags, strings, lists, positionals }
}

/** A positive integer option value, with a precise error. */
export const parsePositiveInt = (name: string, text: string, command?: string): number => {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError({
      message: `--${name} expects a positive integer, got "${text}"`,
      ...(command ? { command } : {})
    })
  }
  return Number(text)
}

export const formatHelp = (command: CommandSpec): string => {
  const usage = [
    `sluice ${command.name}`,
    ...command.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)),
    command.options.length > 0 ? "[options]" : ""
  ]
    .filter((s) => s !== "")
    .join(" ")
  const lines = [`${command.summary}`, "", `Usage: ${usage}`]
  if (command.positionals.length > 0) {
    lines.push("", "Arguments:")
    const w = Math.max(...command.positionals.map((p) => p.name.length)) + 2
    for (const p of command.positionals) lines.push(`  ${p.name.padEnd(w)}${p.description}`)
  }
  if (command.options.length > 0) {
    lines.push("", "Options:")
    const label = (o: OptionSpec) =>
      `${o.short === undefined ? "    " : `-${o.short}, `}--${o.name}${o.kind === "flag" ? "" : ` ${o.value ?? "<value>"}`}`
    const w = Math.min(34, Math.max(...command.options.map((o) => label(o).length)) + 2)
    for (const o of command.options) {
      const l = label(o)
      const desc = o.description.split("\n")
      if (l.length >= w) {
        lines.push(`  ${l}`)
        for (const d of desc) lines.push(`  ${" ".repeat(w)}${d}`)
      } else {
        lines.push(`  ${l.padEnd(w)}${desc[0]}`)
        for (const d of desc.slice(1)) lines.push(`  ${" ".repeat(w)}${d}`)
      }
    }
  }
  if (command.details !== undefined) lines.push("", command.details)
  return `${lines.join("\n")}\n`
}
