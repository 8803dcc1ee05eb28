import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cause, Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { UsageError, UserError } from "../errors.js"
import { ExitCode } from "../exitCodes.js"
import type { Io } from "../io.js"
import { buildRegoBundle, isRegoFolder } from "../policyBuild.js"

const bundlePath = async (io: Io, text: string) => {
  if (text === "builtin") return (await import("@sluice/policies")).builtinBundleDir
  const p = path.resolve(io.cwd, text)
  if (!fs.existsSync(p)) throw new UserError({ message: `no bundle at ${text}` })
  if (!isRegoFolder(p)) return p
  // A folder of Rego sources: compiled first (into a temporary bundle), like `policy build`.
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sluice-policy-")), "bundle.tar.gz")
  await buildRegoBundle(p, out, io.env)
  io.err(`note: compiled ${text} with opa (sluice policy build ${text} -o <file> keeps the bundle)\n`)
  return out
}

/** `sluice policy build <dir> [-o <file>]`: a folder of Rego → an OPA Wasm bundle Sluice loads. */
export const runPolicyBuild = async (io: Io, parsed: Parsed): Promise<number> => {
  const [dirText] = parsed.positionals as [string]
  const dir = path.resolve(io.cwd, dirText)
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new UserError({ message: `no directory ${dirText}` })
  const out = path.resolve(io.cwd, str(parsed, "output-file") ?? "bundle.tar.gz")
  const built = await buildRegoBundle(dir, out, io.env)
  // Loaded once, as `apply --policy` would: a bundle that does not load is not reported as built.
  const policies = await import("@sluice/policies")
  const loaded = await Effect.runPromiseExit(policies.loadBundle(out))
  if (Exit.isFailure(loaded)) return failure(loaded.cause, out)
  io.out(
    `built ${path.relative(io.cwd, out) || out}: ${built.files} .rego file${built.files === 1 ? "" : "s"}, entrypoint sluice/decision${built.addedDecision ? " (the built-in decision.rego and lib added)" : ""}\n`
  )
  return ExitCode.ok
}

const fileArg = (io: Io, text: string | undefined, what: string) => {
  if (text === undefined) return undefined
  const p = path.resolve(io.cwd, text)
  if (!fs.existsSync(p)) throw new UserError({ message: `no ${what} file ${text}` })
  return p
}

/** A hint when a "bundle" is a folder of Rego sources, which must be compiled first. */
const regoHint = (location: string) => {
  try {
    const top = fs.readdirSync(location, { withFileTypes: true })
    const names = top.flatMap((d) =>
      d.isDirectory() ? fs.readdirSync(path.join(location, d.name)).concat(d.name) : [d.name]
    )
    return names.some((n) => n.endsWith(".rego"))
      ? " (a folder of .rego sources is not a bundle: compile it with `opa build -t wasm -e sluice/decision`)"
      : ""
  } catch {
    return ""
  }
}

const failure = (cause: Cause.Cause<unknown>, bundle: string): never => {
  const e = Cause.findErrorOption(cause)
  if (e._tag === "Some") {
    const err = e.value as { _tag?: string; bundle?: string; file?: string; message?: string }
    if (err._tag === "BundleLoadError") {
      // One line: the bundle's message may hold a newline (a Wasm compile error, say).
      const why = (err.message ?? "").replace(/\s*\n\s*/g, " ")
      throw new UserError({ message: `policy bundle ${err.bundle} cannot be loaded: ${why}${regoHint(bundle)}` })
    }
    throw new UserError({
      message: `${err.file !== undefined && !err.message?.includes(err.file) ? `${err.file}: ` : ""}${err.message ?? String(e.value)}`
    })
  }
  throw Cause.squash(cause)
}

export const runPolicyTest = async (io: Io, parsed: Parsed): Promise<number> => {
  const policies = await import("@sluice/policies")
  const [bundleText, casesText] = parsed.positionals as [string, string]
  const bundle = await bundlePath(io, bundleText)
  const cases = fileArg(io, casesText, "cases")!
  const dataFile = fileArg(io, str(parsed, "data"), "data")
  const nowText = str(parsed, "now")
  const output = str(parsed, "output") ?? (flag(parsed, "json") ? "json" : "text")
  if (output !== "text" && output !== "json" && output !== "junit") {
    throw new UsageError({ message: `--output "${output}" is not text, json or junit`, command: "policy test" })
  }
  const exit = await Effect.runPromiseExit(
    policies.runPolicyCasesEffect(bundle, cases, {
      ...(dataFile === undefined ? {} : { data: dataFile }),
      ...(nowText === undefined ? {} : { now: nowText })
    })
  )
  if (Exit.isFailure(exit)) return failure(exit.cause, bundle)
  const report = exit.value
  if (output === "json") io.out(`${JSON.stringify(report, null, 2)}\n`)
  else if (output === "junit") io.out(policies.formatCaseResultsJUnit(report))
  else io.out(policies.formatCaseResults(report, { verbose: flag(parsed, "verbose") }))
  return report.failed === 0 ? ExitCode.ok : ExitCode.blocked
}

export const runPolicyEval = async (io: Io, parsed: Parsed): Promise<number> => {
  const policies = await import("@sluice/policies")
  const [bundleText, inputText] = parsed.positionals as [string, string]
  const bundle = await bundlePath(io, bundleText)
  const input = fileArg(io, inputText, "input")!
  const scan = fileArg(io, str(parsed, "scan"), "scan report")
  const image = fileArg(io, str(parsed, "image"), "image inspect")
  const dataFile = fileArg(io, str(parsed, "data"), "data")
  const nowText = str(parsed, "now")
  const exit = await Effect.runPromiseExit(
    policies.evalPolicyEffect(bundle, input, {
      ...(scan === undefined ? {} : { scanFile: scan }),
      ...(image === undefined ? {} : { imageFile: image }),
      ...(dataFile === undefined ? {} : { data: dataFile }),
      ...(nowText === undefined ? {} : { now: nowText })
    })
  )
  if (Exit.isFailure(exit)) return failure(exit.cause, bundle)
  const result = exit.value
  if (flag(parsed, "json")) {
    io.out(
      `${JSON.stringify({ decision: result.decision, inputSha256: result.inputSha256, bundles: result.bundles, input: result.input }, null, 2)}\n`
    )
  } else io.out(policies.formatDecision(result.decision, result.bundles))
  return result.decision.allow ? ExitCode.ok : ExitCode.blocked
}
