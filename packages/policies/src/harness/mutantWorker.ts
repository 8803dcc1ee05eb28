import { parentPort, workerData } from "node:worker_threads"
import { Cause, Effect, Exit } from "effect"
import { type HarnessOptions, runPolicyCasesEffect } from "./cases.js"

/**
 * Runs a mutant's cases in a worker thread: the Wasm evaluation is synchronous, and a mutant can
 * make it loop forever (opa's Wasm `replace(s, "", x)` never returns), so the harness must be able
 * to stop it from outside (`Worker.terminate`).
 */

export interface MutantJob {
  readonly bundle: string
  readonly casesFile: string
  readonly harness: HarnessOptions
}

export type MutantAnswer =
  | {
      readonly _tag: "ran"
      readonly results: ReadonlyArray<{
        readonly name: string
        readonly passed: boolean
        /** The engine's own denials (`[engine/…] message`): the policy could not be evaluated. */
        readonly engine: ReadonlyArray<string>
      }>
    }
  | { readonly _tag: "unloadable"; readonly message: string }
  | { readonly _tag: "failed"; readonly message: string }

const job = workerData as MutantJob
const exit = await Effect.runPromiseExit(runPolicyCasesEffect(job.bundle, job.casesFile, job.harness))
let answer: MutantAnswer
if (Exit.isSuccess(exit)) {
  answer = {
    _tag: "ran",
    results: exit.value.results.map((r) => ({
      name: r.name,
      passed: r.passed,
      engine:
        r.decision === undefined
          ? ["not evaluated"]
          : r.decision.deny.filter((v) => v.rule.startsWith("engine/")).map((v) => `[${v.rule}] ${v.message}`)
    }))
  }
} else {
  const found = Cause.findErrorOption(exit.cause)
  const error = found._tag === "Some" ? (found.value as { _tag?: string; message?: string }) : undefined
  answer =
    error?._tag === "BundleLoadError"
      ? { _tag: "unloadable", message: error.message ?? "" }
      : { _tag: "failed", message: error?.message ?? String(Cause.squash(exit.cause)) }
}
parentPort?.postMessage(answer)
