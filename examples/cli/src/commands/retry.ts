import * as fs from "node:fs"
import * as path from "node:path"
import { configFromSpec, planWaves, type RolloutHeader, startRollout } from "@sluice/core"
import { Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { loadStatus } from "../describe.js"
import { UserError } from "../errors.js"
import { gateLayer } from "../gates.js"
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
  worldOptionsOf
} from "../runtime.js"
import { checkRolloutId, specFromHeader } from "../spec.js"

/** The outcomes a retry starts over from: the fleet is back where it was (or was never touched). */
const RETRYABLE = new Set(["aborted", "rolledBack", "failed", "blocked"])

/** `<base>`, then `<base>-2`, … : the first id the store does not have. */
export const freeId = (storeRoot: string, base: string) => {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`
    if (!fs.existsSync(path.join(storeRoot, candidate))) return candidate
  }
}

/**
 * `sluice retry <id>`: a rollout that was aborted, rolled back, blocked or failed starts again from
 * its first wave, as a new rollout with the same spec (as stored: the same image, strategy, gates)
 * on the same adapter and connection. The gates run again, and targets already on the new version
 * count as up to date.
 */
export const runRetry = async (io: Io, parsed: Parsed): Promise<number> => {
  const id = parsed.positionals[0]!
  const storeRoot = storeRootOf(io, parsed)
  const store = fileStore(storeRoot)
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { status, inspected } = loaded.value
  if (inspected.header.machineInput.mode === "rollback")
    throw new UserError({ message: `${id} is a rollback run; retry the rollout it rolled back instead` })
  if (!status.finished || status.outcome === undefined) {
    throw new UserError({
      message: `rollout ${id} has not finished (${status.phase}); \`sluice resume ${id}\` continues it`
    })
  }
  if (!RETRYABLE.has(status.outcome)) {
    throw new UserError({
      message:
        status.outcome === "completed"
          ? `rollout ${id} completed; nothing to retry`
          : `rollout ${id} ended ${status.outcome}: some targets were not restored; \`sluice rollback ${id}\` first (needs attention)`
    })
  }
  const newId = str(parsed, "id") ?? freeId(storeRoot, `${id}-retry`)
  return startFromStored(io, parsed, {
    command: "retry",
    storeRoot,
    source: inspected.header,
    newId,
    note: `retrying ${id} (${status.outcome}) as ${newId}`
  })
}

/**
 * A new rollout from a stored one's spec (as stored: image, strategy, gates, absolute paths), on
 * its adapter and connection; the simulated fleet keeps its faults unless given again.
 */
export const startFromStored = async (
  io: Io,
  parsed: Parsed,
  req: {
    readonly command: string
    readonly storeRoot: string
    readonly source: RolloutHeader
    readonly newId: string
    readonly note: string
  }
): Promise<number> => {
  const { storeRoot, source, newId, command } = req
  checkRolloutId(newId, command)
  if (fs.existsSync(path.join(storeRoot, newId, "header.json")))
    throw new UserError({ message: `rollout ${newId} already exists in ${storeRoot}; pick another --id` })
  checkAdapterName(source.adapter, command)
  checkConnectionFlags(parsed, source.adapter, command)
  const spec = specFromHeader(source.spec)
  const world = existingWorldOptions(io, storeRoot, source.adapter, worldOptionsOf(parsed, command))
  const sim = simRunFor(storeRoot, source.rolloutId, parsed)
  const opened = await openAdapter(io, parsed, source.adapter, storeRoot, newId, world, sim, {
    continuing: source.rolloutId
  })
  io.err(`note: ${req.note}\n`)
  return runRollout({
    io,
    metricsPort: str(parsed, "metrics-port"),
    otlpEndpoint: str(parsed, "otlp-endpoint"),
    cdeventsUrl: str(parsed, "cdevents-url"),
    mode: outputModeOf(io, parsed),
    verbose: flag(parsed, "verbose"),
    store: fileStore(storeRoot),
    adapter: opened,
    gates: await gateLayer(spec),
    rolloutId: newId,
    program: startRollout({
      config: configFromSpec(spec, newId, { adapter: source.adapter }),
      spec: source.spec,
      plan: (inventory) => planWaves(spec, inventory)
    })
  })
}
