import { formatPlanTable } from "../render/planTable.js"
import { configFromSpec, discoverInventory, type Inventory, type Plan, planToJson, planWaves } from "@sluice/core"
import { Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import type { Io } from "../io.js"
import {
  checkAdapterName,
  checkConnectionFlags,
  emptySelectorMessage,
  openAdapter,
  reportFailure,
  simRunOf,
  storeRootOf,
  worldOptionsOf
} from "../runtime.js"
import { viewWorld } from "../simulated/world.js"
import { checkSelector, loadSpec } from "../spec.js"

export const runPlan = async (io: Io, parsed: Parsed): Promise<number> => {
  const loaded = await loadSpec(io, parsed, "plan")
  const adapter = str(parsed, "adapter") ?? loaded.spec.spec.target.adapter
  checkAdapterName(adapter, "plan")
  checkConnectionFlags(parsed, adapter, "plan")
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
  if (inventory.length === 0) io.err(`warning: ${emptySelectorMessage(adapter, config.selector)}\n`)
  const plan = planWaves(loaded.spec, inventory)
  if (flag(parsed, "json")) io.out(planToJson(plan))
  else {
    const lines = formatPlanTable(plan, inventory).trimEnd().split("\n")
    const perValue = perTopologyValue(plan, inventory, unitOf(adapter, loaded.spec.spec.target.selector))
    if (perValue !== undefined) {
      const at = lines.findIndex((l) => l.startsWith(`topology ${plan.topologyKey}`))
      lines.splice(at < 0 ? lines.length : at + 1, 0, perValue)
    }
    io.out(`${lines.join("\n")}\n`)
  }
  return 0
}

/** What one target is, in words: a node for a DaemonSet (one target per node), else a target. */
const unitOf = (adapter: string, selector: unknown) =>
  adapter === "kubernetes" && (selector as { kind?: unknown } | undefined)?.kind === "DaemonSet" ? "node" : "target"

/**
 * `nodes per zone (topology.kubernetes.io/zone): zone-a 20, zone-b 20, zone-c 20`: how many of the
 * targets to update each topology value holds (the table's column gives the same per wave).
 */
const perTopologyValue = (plan: Plan, inventory: Inventory, unit: string): string | undefined => {
  const key = plan.topologyKey
  if (key === undefined) return undefined
  const labels = new Map(inventory.map((i) => [i.target.id, i.target.labels]))
  const counts = new Map<string, number>()
  for (const id of plan.waves.flatMap((w) => w.targets)) {
    const v = labels.get(id)?.[key] ?? ""
    counts.set(v, (counts.get(v) ?? 0) + 1)
  }
  if (counts.size === 0) return undefined
  const short = key.slice(key.lastIndexOf("/") + 1)
  const values = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${unit}s per ${short}${short === key ? "" : ` (${key})`}: ${values.map(([v, n]) => `${v === "" ? "(none)" : v} ${n}`).join(", ")}`
}
