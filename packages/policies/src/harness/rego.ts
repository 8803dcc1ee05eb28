import { execFile } from "node:child_process"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result, Schema } from "effect"

/**
 * Running the `opa` CLI on a policy author's Rego sources, for what only the sources can tell:
 * coverage (`opa eval --coverage`) and the AST that mutation testing edits (`opa parse`).
 */

/** `opa` could not run, or said something the harness cannot use. Never turned into a pass. */
export class RegoToolError extends Schema.TaggedError<RegoToolError>()("RegoToolError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** Runs `opa` to its end: its exit code and output. Fails only when opa cannot be started. */
export const runOpaRaw = (opa: string, args: ReadonlyArray<string>, options: { readonly cwd?: string } = {}) =>
  Effect.callback<{ readonly code: number; readonly stdout: string; readonly stderr: string }, RegoToolError>(
    (resume) => {
      execFile(
        opa,
        [...args],
        { ...(options.cwd === undefined ? {} : { cwd: options.cwd }), maxBuffer: 256 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error === null) return resume(Effect.succeed({ code: 0, stdout, stderr }))
          if (typeof error.code === "number") return resume(Effect.succeed({ code: error.code, stdout, stderr }))
          resume(
            Effect.fail(
              new RegoToolError({
                message:
                  error.code === "ENOENT"
                    ? `no opa at ${opa} (npm run setup builds it into .tools/bin; or set SLUICE_OPA)`
                    : `opa ${args[0] ?? ""} did not run: ${error.message}`,
                cause: error
              })
            )
          )
        }
      )
    }
  )

/** What `opa test` said about a folder's Rego tests (`*_test.rego`). */
export type RegoTestOutcome =
  | { readonly _tag: "passed"; readonly tests: number }
  | { readonly _tag: "failed"; readonly failed: ReadonlyArray<string> }
  /** opa could not run the tests (they do not compile with these sources): no verdict. */
  | { readonly _tag: "error"; readonly message: string }

const TestResults = Schema.Array(
  Schema.Struct({
    package: Schema.String,
    name: Schema.String,
    fail: Schema.optional(Schema.Boolean),
    error: Schema.optional(Schema.Unknown)
  })
)
const decodeTestResults = Schema.decodeUnknownResult(TestResults)

/** Runs `opa test --format json` on `paths` (sources, tests, data files). */
export const runRegoTests = Effect.fnUntraced(function* (opa: string, paths: ReadonlyArray<string>) {
  const ran = yield* runOpaRaw(opa, ["test", "--format", "json", ...paths])
  let json: unknown
  try {
    json = JSON.parse(ran.stdout)
  } catch {
    json = undefined
  }
  const decoded = decodeTestResults(json)
  if (Result.isFailure(decoded)) {
    const first = `${ran.stderr}\n${ran.stdout}`
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l !== "")
    return { _tag: "error", message: `opa test: ${first ?? `exit ${ran.code}`}` } satisfies RegoTestOutcome
  }
  // A test that errors (a conflict, a type error at run time) fails the suite, as opa test counts it.
  const failed = decoded.success
    .filter((t) => t.fail === true || t.error !== undefined)
    .map((t) => `${t.package}.${t.name}${t.error !== undefined ? " (error)" : ""}`)
  if (failed.length > 0) return { _tag: "failed", failed } satisfies RegoTestOutcome
  // Nonzero with every test passing is something else going wrong: no verdict, not a pass.
  if (ran.code !== 0) return { _tag: "error", message: `opa test exited ${ran.code}` } satisfies RegoTestOutcome
  return { _tag: "passed", tests: decoded.success.length } satisfies RegoTestOutcome
})

/** Runs `opa` and returns its stdout; a nonzero exit is an error with opa's first message. */
export const runOpa = (opa: string, args: ReadonlyArray<string>, options: { readonly cwd?: string } = {}) =>
  Effect.callback<string, RegoToolError>((resume) => {
    execFile(
      opa,
      [...args],
      { ...(options.cwd === undefined ? {} : { cwd: options.cwd }), maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed(stdout))
        const missing = (error as NodeJS.ErrnoException).code === "ENOENT"
        const first = `${stderr}\n${stdout}`
          .split("\n")
          .map((l) => l.trim())
          .find((l) => l !== "")
        resume(
          Effect.fail(
            new RegoToolError({
              message: missing
                ? `no opa at ${opa} (npm run setup builds it into .tools/bin; or set SLUICE_OPA)`
                : `opa ${args[0] ?? ""} failed: ${first ?? `exit ${String(error.code)}`}`,
              cause: error
            })
          )
        )
      }
    )
  })

/**
 * The Rego sources of a policy folder an author owns, relative to it, sorted: every `.rego` file
 * except tests (`*_test.rego`), which are not part of the policy (opa build leaves them out too).
 */
export const regoSources = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego") && statSync(join(dir, f)).isFile())
    .sort()

/** A source position as opa reports it: 1-based row, 1-based byte column, the node's text (base64). */
export const RegoLocation = Schema.Struct({
  file: Schema.optional(Schema.String),
  row: Schema.Int,
  col: Schema.Int,
  text: Schema.optional(Schema.String)
})
export type RegoLocation = typeof RegoLocation.Type

/**
 * The top of `opa parse --format json --json-include locations`: the rules are decoded further
 * as they are walked (each node the mutator relies on is checked where it is read).
 */
const RegoModuleJson = Schema.Struct({
  package: Schema.Struct({ location: RegoLocation }),
  rules: Schema.optional(Schema.Array(Schema.Unknown))
})

export interface ParsedRego {
  /** The file as read (bytes: opa's columns count bytes). */
  readonly source: Buffer
  readonly rules: ReadonlyArray<unknown>
}

const decodeModule = Schema.decodeUnknownResult(RegoModuleJson)

/** Parses one Rego file with `opa parse` (the AST with the location and text of every node). */
export const parseRego = Effect.fnUntraced(function* (opa: string, file: string) {
  const source = yield* Effect.try({
    try: () => readFileSync(file),
    catch: (cause) => new RegoToolError({ message: `cannot read ${file}`, cause })
  })
  const out = yield* runOpa(opa, ["parse", "--format", "json", "--json-include", "locations,-comments", file])
  const json = yield* Effect.try({
    try: () => JSON.parse(out) as unknown,
    catch: (cause) => new RegoToolError({ message: `opa parse ${file}: output is not JSON`, cause })
  })
  const decoded = decodeModule(json)
  if (Result.isFailure(decoded)) {
    return yield* new RegoToolError({
      message: `opa parse ${file}: unexpected AST: ${decoded.failure.message}`,
      cause: decoded.failure
    })
  }
  return { source, rules: decoded.success.rules ?? [] } satisfies ParsedRego
})
