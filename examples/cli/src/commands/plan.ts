import { configFromSpec, discoverInventory, formatPlanTable, planToJson, planWaves } from "@sluice/core"
import { Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import type { Io } from "../io.js"
import { checkAdapterName, openAdapter, reportFailure, simRunOf, storeRootOf, worldOptionsOf } from "../runtime.js"
import { viewWorld } from "../simulated/world.js"
import { checkSelector, loadSpec } from "../spec.js"

export const runPlan = async (io: Io, parsed: Parsed): Promise<number> => {
  const loaded = await loadSpec(io, parsed, "plan")
  const adapter = str(parsed, "adapter") ?? loaded.spec.spec.target.adapter
  checkAdapterName(adapter, "plan")
  await checkSelector(loaded.spec, adapter, loaded.source)
  const config = configFromSpec(loaded.spec, "plan", { adapter })
  const storeRoot = storeRootOf(io, parsed)
  // Plan only looks: the simulated fleet is read, never locked or written.
  const layer =
    adapter === "simulated"
      ? viewWorld(storeRoot, worldOptionsOf(parsed, "plan"), simRunOf(parsed)).fleet.layer
      : (await openAdapter(io, parsed, adapter, storeRoot, "plan", worldOptionsOf(parsed, "plan"), simRunOf(parsed)))
          .layer
  const exit = await Effect.runPromiseExit(discoverInventory(config).pipe(Effect.provide(layer)))
  if (Exit.isFailure(exit)) return reportFailure(io, exit.cause)
  const { inventory } = exit.value
  const plan = planWaves(loaded.spec, inventory)
  if (flag(parsed, "json")) io.out(planToJson(plan))
  else {
    const table = formatPlanTable(plan, inventory)
    io.out(table.endsWith("\n") ? table : `${table}\n`)
  }
  return 0
}
