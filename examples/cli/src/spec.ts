import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  decodeRolloutSpec,
  deepMerge,
  encodeRolloutSpec,
  formatSpecProblem,
  issueToProblems,
  parseRolloutSpec,
  type RolloutSpec,
  type SpecProblem
} from "@sluice/core"
import { Result, Schema } from "effect"
import { parse as parseYaml } from "yaml"
import { type Parsed, list, str } from "./args.js"
import { UsageError, UserError } from "./errors.js"
import { absolutePaths } from "./gates.js"
import type { Io } from "./io.js"
import { selectorSchemaFor } from "./runtime.js"

/** A spec the user got wrong: every problem is printed with its path, exit 64. */
export class SpecInvalid extends Error {
  constructor(
    readonly problems: ReadonlyArray<SpecProblem>,
    readonly source: string
  ) {
    super(`invalid Rollout spec in ${source}`)
    this.name = "SpecInvalid"
  }
}

export const formatSpecInvalid = (e: SpecInvalid): string => {
  const n = e.problems.length
  return `error: invalid Rollout spec ${e.source} (${n} problem${n === 1 ? "" : "s"}):\n${e.problems.map((p) => `  ${formatSpecProblem(p)}`).join("\n")}\n`
}

export interface LoadedSpec {
  readonly spec: RolloutSpec
  /** The encoded (plain JSON) spec, as stored in the journal header. */
  readonly document: unknown
  readonly source: string
}

const readText = async (io: Io, file: string, what: string): Promise<string> => {
  if (file === "-") return io.readStdin()
  try {
    return fs.readFileSync(path.resolve(io.cwd, file), "utf8")
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new UserError({
      message: `cannot read ${what} ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : (e as Error).message}`
    })
  }
}

/** `-f` (+ `--values`, `--set`) → a decoded spec with absolute paths, or SpecInvalid listing every problem. */
export const loadSpec = async (io: Io, parsed: Parsed, command: string): Promise<LoadedSpec> => {
  const file = str(parsed, "filename")
  if (file === undefined) throw new UsageError({ message: "missing the spec: -f <file> (or -f - for stdin)", command })
  const text = await readText(io, file, "spec file")
  const values = await Promise.all(
    list(parsed, "values").map(async (v) => ({ name: v, text: await readText(io, v, "values file") }))
  )
  const source = file === "-" ? "<stdin>" : file
  const result = parseRolloutSpec(text, {
    source,
    ...(file.endsWith(".json") ? { format: "json" as const } : {}),
    values,
    set: list(parsed, "set")
  })
  if (Result.isFailure(result)) throw new SpecInvalid(result.failure.problems, source)
  const baseDir = file === "-" ? io.cwd : path.dirname(path.resolve(io.cwd, file))
  const withPaths = absolutePaths(result.success, baseDir)
  // --policy bundles are relative to where the operator stands, and switch the policy gate on.
  const extra = list(parsed, "policy").map((p) => path.resolve(io.cwd, p))
  const spec =
    extra.length === 0
      ? withPaths
      : {
          ...withPaths,
          spec: {
            ...withPaths.spec,
            gates: {
              ...withPaths.spec.gates,
              policy: {
                ...withPaths.spec.gates.policy,
                enabled: true,
                bundles: [...(withPaths.spec.gates.policy.bundles ?? []), ...extra]
              }
            }
          }
        }
  for (const bundle of extra) {
    if (!fs.existsSync(bundle))
      throw new UsageError({ message: `--policy ${bundle}: no such file or directory`, command })
  }
  const withData = await withPolicyData(io, parsed, spec, source)
  const encoded = encodeRolloutSpec(withData)
  if (Result.isFailure(encoded)) throw new SpecInvalid(encoded.failure.problems, source)
  return { spec: withData, document: encoded.success, source }
}

/**
 * `--policy-data <file>` (YAML or JSON): deep-merged over `spec.gates.policy.data` (as `policy
 * eval --data` merges data), then decoded with the spec, strictly: a problem is named with its
 * path under spec.gates.policy.data and the file. Kept in the stored spec, so a resume has it.
 */
const withPolicyData = async (io: Io, parsed: Parsed, spec: RolloutSpec, source: string): Promise<RolloutSpec> => {
  const file = str(parsed, "policy-data")
  if (file === undefined) return spec
  const text = await readText(io, file, "policy data file")
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (e) {
    throw new UsageError({ message: `--policy-data ${file}: not YAML or JSON: ${(e as Error).message}` })
  }
  const encoded = encodeRolloutSpec(spec)
  if (Result.isFailure(encoded)) throw new SpecInvalid(encoded.failure.problems, source)
  const document = encoded.success
  const policy = document.spec.gates?.policy ?? {}
  const merged = {
    ...document,
    spec: {
      ...document.spec,
      gates: {
        ...document.spec.gates,
        policy: { ...policy, data: deepMerge(policy.data ?? {}, value, { nullDeletes: false }) }
      }
    }
  }
  const decoded = decodeRolloutSpec(merged)
  if (Result.isFailure(decoded)) throw new SpecInvalid(decoded.failure.problems, `${source} with --policy-data ${file}`)
  return decoded.success
}

/** Checks `spec.target.selector` against the adapter's own selector schema. */
export const checkSelector = async (spec: RolloutSpec, adapter: string, source: string) => {
  const schema = await selectorSchemaFor(adapter)
  if (schema === undefined) return
  const decoded = Schema.decodeUnknownResult(schema, { errors: "all", onExcessProperty: "error" })(
    spec.spec.target.selector
  )
  if (Result.isFailure(decoded)) {
    const problems = issueToProblems(decoded.failure.issue, spec.spec.target.selector).map((p) => ({
      ...p,
      path:
        p.path === ""
          ? "spec.target.selector"
          : p.path.startsWith("[")
            ? `spec.target.selector${p.path}`
            : `spec.target.selector.${p.path}`
    }))
    throw new SpecInvalid(
      problems.map((p) => ({ ...p, message: `${p.message} (${adapter} adapter)` })),
      source
    )
  }
}

/** The spec stored in a journal header, decoded again (resume needs its gates). */
export const specFromHeader = (document: unknown): RolloutSpec => {
  const decoded = decodeRolloutSpec(document)
  if (Result.isFailure(decoded)) {
    throw new UserError({ message: `the stored spec no longer decodes: ${decoded.failure.message}` })
  }
  return decoded.success
}

const ID = /^[a-z0-9][a-z0-9._-]{0,127}$/

export const checkRolloutId = (id: string, command: string) => {
  if (!ID.test(id)) {
    throw new UsageError({
      message: `invalid rollout id "${id}": lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 128 characters`,
      command
    })
  }
}

/** `<metadata.name>-<yyyymmdd-hhmmss>-<4 random>` (UTC). */
export const newRolloutId = (spec: RolloutSpec, now = new Date()): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  const stamp = `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}`
  return `${spec.metadata.name}-${stamp}-${randomBytes(2).toString("hex")}`
}
