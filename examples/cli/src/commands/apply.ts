import * as fs from "node:fs"
import * as path from "node:path"
import { configFromSpec, planWaves, startRollout, TargetAdapter } from "@sluice/core"
import { Effect } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { UsageError, UserError } from "../errors.js"
import { gateLayer } from "../gates.js"
import type { Io } from "../io.js"
import {
  checkAdapterName,
  checkConnectionFlags,
  emptySelectorMessage,
  ensureStoreRoot,
  fileStore,
  noteIgnoredFleetFlags,
  openAdapter,
  outputModeOf,
  resetWorld,
  runRollout,
  simRunOf,
  worldOptionsOf,
  logOptionsOf
} from "../runtime.js"
import { readWorld } from "../simulated/world.js"
import { checkRolloutId, checkSelector, loadSpec, newRolloutId } from "../spec.js"

export const runApply = async (io: Io, parsed: Parsed): Promise<number> => {
  // Checked before anything is opened: a usage error must leave nothing half set up.
  const logs = logOptionsOf(parsed, "apply")
  const loaded = await loadSpec(io, parsed, "apply")
  const adapter = str(parsed, "adapter") ?? loaded.spec.spec.target.adapter
  checkAdapterName(adapter, "apply")
  checkConnectionFlags(parsed, adapter, "apply")
  await checkSelector(loaded.spec, adapter, loaded.source)
  const storeRoot = ensureStoreRoot(io, parsed)
  const rolloutId = str(parsed, "id") ?? newRolloutId(loaded.spec)
  checkRolloutId(rolloutId, "apply")
  if (fs.existsSync(path.join(storeRoot, rolloutId, "header.json"))) {
    throw new UserError({
      message: `rollout ${rolloutId} already exists in ${storeRoot}; pick another --id, or \`sluice resume ${rolloutId}\``
    })
  }
  const world = worldOptionsOf(parsed, "apply")
  const sim = simRunOf(parsed)
  if (adapter === "simulated") {
    if (flag(parsed, "reset-fleet")) resetWorld(storeRoot)
    noteIgnoredFleetFlags(io, parsed, storeRoot, readWorld(storeRoot)?.options)
  }
  const config = configFromSpec(loaded.spec, rolloutId, { adapter })
  const gates = await gateLayer(loaded.spec)
  const allowEmpty = flag(parsed, "allow-empty")
  const opened = await openAdapter(io, parsed, adapter, storeRoot, rolloutId, world, sim, {
    unknownFaultTargets: allowEmpty ? "warn" : "error"
  })
  const spec = loaded.spec
  // A selector that matches nothing would "complete" a rollout of nothing: refused unless allowed.
  const checkSelectorMatches = Effect.gen(function* () {
    const found = yield* (yield* TargetAdapter).discover(config.selector)
    if (found.length > 0) return
    const what = emptySelectorMessage(adapter, config.selector)
    if (!allowEmpty)
      return yield* new UsageError({ message: `${what}; --allow-empty runs it anyway`, command: "apply" })
    io.err(`warning: ${what}\n`)
  })
  return runRollout({
    io,
    metricsPort: str(parsed, "metrics-port"),
    otlpEndpoint: str(parsed, "otlp-endpoint"),
    cdeventsUrl: str(parsed, "cdevents-url"),
    logs,
    mode: outputModeOf(io, parsed),
    verbose: flag(parsed, "verbose"),
    store: fileStore(storeRoot),
    adapter: opened,
    gates,
    rolloutId,
    program: Effect.andThen(
      checkSelectorMatches,
      startRollout({ config, spec: loaded.document, plan: (inventory) => planWaves(spec, inventory) })
    )
  })
}
