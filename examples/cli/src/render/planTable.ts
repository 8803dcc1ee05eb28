import { formatDuration, type Inventory, type Plan, type Wave, type WavePause } from "@sluice/core"

// The `sluice plan` table: presentation, so it lives with the CLI; the core keeps the plan as data
// (and its canonical JSON, `planToJson`).

export function formatPause(pause: WavePause | undefined): string {
  if (pause === undefined) return "-"
  return pause.kind === "untilResumed" ? "until resumed" : formatDuration(pause.ms)
}

const valueLabel = (v: string): string => (v === "" ? "(none)" : v)

function topologyCell(wave: Wave): string {
  const counts = wave.topologyCounts
  if (counts === undefined) return "-"
  return Object.keys(counts)
    .sort()
    .map((v) => `${valueLabel(v)}=${counts[v]}`)
    .join(" ")
}

function renderTable(header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/**
 * The `sluice plan` table: one row per wave (index, kind, size, cumulative progress, canary
 * weight, per-topology-value counts, maxUnavailable/maxSurge, pause after, analysis, approval),
 * with a summary header (what runs now, from the inventory) and the planner's warnings.
 */
export function formatPlanTable(plan: Plan, inventory: Inventory): string {
  const toUpdate = plan.waves.reduce((n, w) => n + w.targets.length, 0)
  const lines: Array<string> = []
  lines.push(
    `strategy ${plan.strategy}: ${toUpdate} target(s) to update in ${plan.waves.length} wave(s), ${plan.upToDate.length} already up to date${
      plan.image !== undefined ? ` (${plan.image})` : ""
    }`
  )
  const running = new Map<string, number>()
  const planned = new Set(plan.waves.flatMap((w) => w.targets))
  for (const item of inventory) {
    if (planned.has(item.target.id)) running.set(item.image, (running.get(item.image) ?? 0) + 1)
  }
  if (running.size > 0) {
    const parts = [...running.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    lines.push(`currently running: ${parts.map(([image, n]) => `${image} ×${n}`).join(", ")}`)
  }
  if (plan.topologyKey !== undefined) {
    const sequence = plan.topologySequence
    lines.push(
      sequence !== undefined
        ? `topology ${plan.topologyKey} (sequential): ${sequence.map(valueLabel).join(" → ") || "(no targets)"}`
        : `topology ${plan.topologyKey}: ${(plan.topologyValues ?? []).map(valueLabel).join(", ") || "(no targets)"}`
    )
  }
  const sets = plan.groupSets
  const setLabel = (i: number | undefined) =>
    i === undefined ? "-" : (sets?.[i] ?? []).map(valueLabel).join("+") || "(none)"
  if (plan.groupKey !== undefined && sets !== undefined)
    lines.push(`groups ${plan.groupKey}: ${sets.map((_, i) => setLabel(i)).join(" → ") || "(no targets)"}`)
  lines.push(`fingerprint ${plan.fingerprint}`)
  lines.push("")
  // With topology.groupBy (clusters), which set of groups each wave belongs to.
  const grouped = plan.groupKey !== undefined
  const header = [
    "WAVE",
    ...(grouped ? [(plan.groupKey ?? "").toUpperCase()] : []),
    "KIND",
    "SIZE",
    "DONE",
    "WEIGHT",
    plan.topologyKey !== undefined ? `PER ${plan.topologyKey.toUpperCase()}` : "TOPOLOGY",
    "MAX UNAVAIL",
    "SURGE",
    "PAUSE AFTER",
    "ANALYSIS",
    "APPROVAL"
  ]
  const rows = plan.waves.map((w) => [
    String(w.index),
    ...(grouped ? [setLabel(w.groupSet)] : []),
    w.partition !== undefined ? `${w.kind} >=${w.partition}` : w.kind,
    String(w.targets.length),
    w.updatedAfter !== undefined ? `${w.updatedAfter}/${toUpdate}` : "-",
    w.weight !== undefined ? `${w.weight}%` : "-",
    topologyCell(w),
    String(w.maxUnavailable),
    w.maxSurge > 0 ? String(w.maxSurge) : "-",
    formatPause(w.pauseAfter),
    w.analysis.length > 0 ? w.analysis.map((a) => a.name).join(",") : "-",
    w.approvalBefore ? "required" : "-"
  ])
  lines.push(...renderTable(header, rows))
  if (plan.waves.length === 0) lines.push("(nothing to do)")
  for (const warning of plan.warnings ?? []) lines.push(`warning: ${warning}`)
  return `${lines.join("\n")}\n`
}
