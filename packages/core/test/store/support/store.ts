import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cause, Effect, Exit, References } from "effect"
import { afterAll } from "vitest"
import type { RolloutHeader } from "../../../src/store/RolloutStore.js"
import { configFor } from "../../support/harness.js"

export const header = (rolloutId: string): RolloutHeader => ({
  rolloutId,
  createdAt: 0,
  spec: {},
  image: "img:2",
  adapter: "simulated",
  config: configFor({ rolloutId }),
  machineInput: {
    waves: [],
    rollback: { onFailure: true, onAbort: true },
    progressDeadlineMs: 1,
    rollbackConcurrency: 1
  },
  plan: { strategy: "rolling", targets: [], waves: [], upToDate: [], fingerprint: "x" },
  previous: {}
})

const roots: string[] = []
// Registered while the importing test file is collected: runs after that file's tests.
afterAll(() => {
  for (const dir of roots.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory, removed after the test file. */
export const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-store-"))
  roots.push(dir)
  return dir
}

/** Runs a store effect; its warnings (a quarantined file, a torn line cut off) are not printed. */
const quiet = <A, E>(e: Effect.Effect<A, E>) => e.pipe(Effect.provideService(References.MinimumLogLevel, "None"))
export const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(quiet(e))

/** The failure of an effect, squashed (the error value itself). */
export const failure = async <A, E>(e: Effect.Effect<A, E>) => {
  const exit = await Effect.runPromiseExit(quiet(e))
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  return Cause.squash(exit.cause) as { _tag: string; message: string; path?: string; owner?: string }
}
