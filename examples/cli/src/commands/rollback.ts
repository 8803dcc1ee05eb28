import { createRollback, RolloutStore, resumeRollout } from "@sluice/core"
import { Cause, Effect, Exit, Layer } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { loadStatus } from "../describe.js"
import { UserError } from "../errors.js"
import type { Io } from "../io.js"
import {
  checkAdapterName,
  checkConnectionFlags,
  existingWorldOptions,
  fileStore,
  openAdapter,
  outputModeOf,
  reportFailure,
  runRollout,
  runStoreEffect,
  simRunFor,
  storeRootOf,
  withCreateHook,
  worldOptionsOf,
  logOptionsOf
} from "../runtime.js"
import { checkRolloutId } from "../spec.js"
import { resultExit } from "./control.js"

export const runRollback = async (io: Io, parsed: Parsed): Promise<number> => {
  // Checked before anything is opened: a usage error must leave nothing half set up.
  const logs = logOptionsOf(parsed, "rollback")
  const id = parsed.positionals[0]!
  const storeRoot = storeRootOf(io, parsed)
  const store = fileStore(storeRoot)
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { status, inspected } = loaded.value
  if (!status.finished) {
    throw new UserError({
      message: `rollout ${id} has not finished (${status.phase}); \`sluice abort ${id}\` stops it and rolls it back`
    })
  }
  const newId = str(parsed, "id")
  if (newId !== undefined) checkRolloutId(newId, "rollback")
  const { header } = inspected
  checkAdapterName(header.adapter, "rollback")
  checkConnectionFlags(parsed, header.adapter, "rollback")
  const world = existingWorldOptions(io, storeRoot, header.adapter, worldOptionsOf(parsed, "rollback"))
  const sim = simRunFor(storeRoot, id, parsed)
  const opened = await openAdapter(io, parsed, header.adapter, storeRoot, newId ?? `${id}-rollback`, world, sim, {
    continuing: id
  })
  const created = await Effect.runPromiseExit(
    createRollback(id, newId === undefined ? {} : { rolloutId: newId }).pipe(
      Effect.provideService(RolloutStore, withCreateHook(store, opened.onCreate)),
      Effect.provide(opened.layer)
    )
  )
  if (Exit.isFailure(created)) {
    await opened.release()
    const error = Cause.findErrorOption(created.cause)
    // The core's refusals (nothing to roll back, …) are the user's to fix.
    const value = error._tag === "Some" ? (error.value as { _tag?: string; message?: string }) : undefined
    if (value?._tag === "RolloutError") throw new UserError({ message: value.message ?? "cannot roll back" })
    return reportFailure(io, created.cause)
  }
  const rollbackHeader = created.value
  return runRollout({
    io,
    metricsPort: str(parsed, "metrics-port"),
    otlpEndpoint: str(parsed, "otlp-endpoint"),
    cdeventsUrl: str(parsed, "cdevents-url"),
    logs,
    mode: outputModeOf(io, parsed),
    verbose: flag(parsed, "verbose"),
    store,
    adapter: { ...opened, onCreate: () => {} },
    gates: Layer.empty,
    header: rollbackHeader,
    rolloutId: rollbackHeader.rolloutId,
    program: resumeRollout(rollbackHeader.rolloutId),
    exitCode: (result) => resultExit("rollback", result)
  })
}
