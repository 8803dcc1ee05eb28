import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseDuration } from "@sluice/core"
import { Cause, Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { UsageError, UserError } from "../errors.js"
import { ExitCode } from "../exitCodes.js"
import type { Io } from "../io.js"
import { buildRegoBundle, compileRego, isRegoFolder, opaBinary, prepareRegoTree } from "../policyBuild.js"

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

/** A percentage argument: a number from 0 to 100, nothing else (`90`, `87.5`). */
const percentArg = (parsed: Parsed, name: string): number | undefined => {
  const text = str(parsed, name)
  if (text === undefined) return undefined
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN
  if (!(n >= 0 && n <= 100)) {
    throw new UsageError({ message: `--${name} "${text}" is not a percentage from 0 to 100`, command: "policy test" })
  }
  return n
}

/** A positive integer argument (`--mutate-max 50`). */
const countArg = (parsed: Parsed, name: string): number | undefined => {
  const text = str(parsed, name)
  if (text === undefined) return undefined
  if (!/^[1-9]\d{0,6}$/.test(text)) {
    throw new UsageError({ message: `--${name} "${text}" is not a positive integer`, command: "policy test" })
  }
  return Number(text)
}

/** `--timeout <duration>`: one evaluation's time limit, in milliseconds (`undefined`: the engine's). */
const timeoutArg = (parsed: Parsed, command: string): number | undefined => {
  const text = str(parsed, "timeout")
  if (text === undefined) return undefined
  const ms = parseDuration(text)
  if (ms === undefined || ms <= 0) {
    throw new UsageError({ message: `--timeout "${text}" is not a positive duration (like 5s)`, command })
  }
  return ms
}

/** Errors of the coverage or mutation run: opa failed or disagreed, so nothing can be claimed. */
const toolFailure = (io: Io, what: string, cause: Cause.Cause<unknown>): number => {
  const e = Cause.findErrorOption(cause)
  const message =
    e._tag === "Some" ? ((e.value as { message?: string }).message ?? String(e.value)) : String(Cause.squash(cause))
  io.err(`error: ${what}: ${message.replace(/\s*\n\s*/g, " ")}\n`)
  return ExitCode.internal
}

export const runPolicyTest = async (io: Io, parsed: Parsed): Promise<number> => {
  const policies = await import("@sluice/policies")
  const [bundleText, casesText] = parsed.positionals as [string, string]
  const output = str(parsed, "output") ?? (flag(parsed, "json") ? "json" : "text")
  if (output !== "text" && output !== "json" && output !== "junit") {
    throw new UsageError({ message: `--output "${output}" is not text, json or junit`, command: "policy test" })
  }
  const coverageMin = percentArg(parsed, "coverage-min")
  const mutateMin = percentArg(parsed, "mutate-min")
  const mutateMax = countArg(parsed, "mutate-max")
  const mutateJobs = countArg(parsed, "mutate-jobs")
  const mutateTimeout = countArg(parsed, "mutate-timeout")
  const evaluationTimeoutMs = timeoutArg(parsed, "policy test")
  const wantCoverage = flag(parsed, "coverage") || coverageMin !== undefined
  const wantMutate =
    flag(parsed, "mutate") || mutateMin !== undefined || mutateMax !== undefined || mutateTimeout !== undefined
  const sources = path.resolve(io.cwd, bundleText)
  if ((wantCoverage || wantMutate) && (bundleText === "builtin" || !isRegoFolder(sources))) {
    // Coverage and mutants are about lines of Rego: a compiled bundle has none left.
    throw new UsageError({
      message: `${wantCoverage ? "--coverage" : "--mutate"} needs the policy's Rego sources: ${bundleText} is ${bundleText === "builtin" || fs.existsSync(sources) ? "a compiled bundle" : "not there"}; give the folder of .rego files it is built from${bundleText === "builtin" ? " (the built-in policies: packages/policies/policies with --data packages/policies/data/data.json)" : ""}`,
      command: "policy test"
    })
  }
  const bundle = await bundlePath(io, bundleText)
  const cases = fileArg(io, casesText, "cases")!
  const dataFile = fileArg(io, str(parsed, "data"), "data")
  const nowText = str(parsed, "now")
  const harness = {
    ...(dataFile === undefined ? {} : { data: dataFile }),
    ...(nowText === undefined ? {} : { now: nowText })
  }
  const exit = await Effect.runPromiseExit(
    policies.runPolicyCasesEffect(bundle, cases, {
      ...harness,
      ...(evaluationTimeoutMs === undefined ? {} : { evaluationTimeoutMs }),
      keepInputs: wantCoverage
    })
  )
  if (Exit.isFailure(exit)) return failure(exit.cause, bundle)
  const report = exit.value
  const opa = opaBinary(io.env)

  let coverage: import("@sluice/policies").CoverageReport | undefined
  if (wantCoverage) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-coverage-tree-"))
    try {
      const { tree, authored } = await prepareRegoTree(sources, work)
      const modules = (fs.readdirSync(tree, { recursive: true }) as Array<string>)
        .filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))
        .sort()
        .map((f) => {
          const file = path.join(tree, f)
          const rel = path.relative(authored, file)
          return rel.startsWith("..") ? { file } : { file, label: path.join(bundleText, rel) }
        })
      const covered = await Effect.runPromiseExit(
        Effect.gen(function* () {
          // The data the Wasm bundle evaluated with: its own, with --data merged over it.
          const loaded = yield* policies.loadBundle(dataFile === undefined ? bundle : { path: bundle, data: dataFile })
          return yield* policies.policyCoverageEffect({ opa, modules, data: loaded.data, report })
        })
      )
      if (Exit.isFailure(covered)) return toolFailure(io, "coverage", covered.cause)
      coverage = covered.value
    } finally {
      fs.rmSync(work, { recursive: true, force: true })
    }
  }

  let mutation: import("@sluice/policies").MutationReport | undefined
  if (wantMutate && report.failed > 0) {
    io.err(`note: mutation testing skipped: ${report.failed} of ${report.total} cases fail on the unmutated policy\n`)
  } else if (wantMutate) {
    const build = (dir: string, out: string) =>
      Effect.tryPromise({
        try: () => compileRego(dir, out, io.env),
        catch: (cause) =>
          new policies.RegoToolError({
            message: cause instanceof UserError ? cause.message : `opa build failed: ${String(cause)}`,
            cause
          })
      }).pipe(
        Effect.map((r): import("@sluice/policies").BuildOutcome =>
          r.ok ? { _tag: "built" } : { _tag: "invalid", message: r.message }
        )
      )
    const hasRegoTests = (fs.readdirSync(sources, { recursive: true }) as Array<string>).some((f) =>
      f.endsWith("_test.rego")
    )
    // The folder's own opa tests run on each mutant too, on the tree the bundle is built from
    // (with the added entrypoint and library) and with the --data the cases get.
    const regoTests = (dir: string) =>
      Effect.acquireUseRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "sluice-rego-tests-"))),
        (work) =>
          Effect.tryPromise({
            try: () => prepareRegoTree(dir, work),
            catch: (cause) =>
              new policies.RegoToolError({ message: cause instanceof UserError ? cause.message : String(cause), cause })
          }).pipe(
            Effect.flatMap(({ tree }) => policies.runRegoTests(opa, dataFile === undefined ? [tree] : [tree, dataFile]))
          ),
        (work) => Effect.sync(() => fs.rmSync(work, { recursive: true, force: true }))
      )
    const mutated = await Effect.runPromiseExit(
      policies.runMutationEffect({
        opa,
        dir: sources,
        label: bundleText,
        casesFile: cases,
        harness,
        build,
        baseline: report,
        ...(hasRegoTests ? { regoTests } : {}),
        ...(mutateMax === undefined ? {} : { max: mutateMax }),
        ...(mutateTimeout === undefined ? {} : { timeoutMs: mutateTimeout * 1000 }),
        // Each job is an opa build plus the cases in this process: more jobs than CPUs only queue.
        jobs: Math.min(mutateJobs ?? 2, Math.max(1, os.availableParallelism()))
      })
    )
    if (Exit.isFailure(mutated)) return toolFailure(io, "mutation testing", mutated.cause)
    mutation = mutated.value
  }

  if (output === "json") io.out(`${JSON.stringify({ ...report, coverage, mutation }, null, 2)}\n`)
  else if (output === "junit")
    io.out(
      policies.formatCaseResultsJUnit(report, {
        ...(coverage === undefined ? {} : { coverage }),
        ...(coverageMin === undefined ? {} : { coverageMin }),
        ...(mutation === undefined ? {} : { mutation })
      })
    )
  else {
    io.out(policies.formatCaseResults(report, { verbose: flag(parsed, "verbose") }))
    if (coverage !== undefined) io.out(policies.formatCoverage(coverage, coverageMin))
    if (mutation !== undefined) io.out(policies.formatMutation(mutation, mutateMin))
  }
  if (report.failed > 0) return ExitCode.blocked
  const coverageLow = coverage !== undefined && coverageMin !== undefined && coverage.percent < coverageMin
  const mutationLow =
    mutation !== undefined && mutateMin !== undefined && (mutation.score === null || mutation.score < mutateMin)
  return coverageLow || mutationLow ? ExitCode.belowThreshold : ExitCode.ok
}

export const runPolicyEval = async (io: Io, parsed: Parsed): Promise<number> => {
  const policies = await import("@sluice/policies")
  const [bundleText, inputText] = parsed.positionals as [string, string]
  const evaluationTimeoutMs = timeoutArg(parsed, "policy eval")
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
      ...(nowText === undefined ? {} : { now: nowText }),
      ...(evaluationTimeoutMs === undefined ? {} : { evaluationTimeoutMs })
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
