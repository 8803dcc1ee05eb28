import type { RolloutHeader, RolloutResult } from "@sluice/core"
import type { Style } from "./style.js"
import {
  fleetChange,
  formatMs,
  formatViolations,
  mostCommon,
  outcomeStyled,
  plural,
  replacedImages,
  versionOf
} from "./text.js"

export interface SummaryInput {
  readonly header: RolloutHeader
  readonly result: RolloutResult
  readonly durationMs?: number
  /** 0-based index of the wave the rollout was in when it ended. */
  readonly waveIndex?: number
  readonly warnings?: number
  readonly retries?: number
}

const row = (style: Style, label: string, value: string) => `  ${style.dim(label.padEnd(11))}${value}`

/** The readable end-of-run summary (also `sluice status` of a finished rollout). */
export const summaryLines = (input: SummaryInput, style: Style): string[] => {
  const { header, result } = input
  const lines: string[] = []
  const from = mostCommon(Object.values(header.previous).map((r) => r.image))
  const manual = header.machineInput.mode === "rollback"
  const title = manual
    ? result.outcome === "rolledBack"
      ? style.green("✓ rolled back")
      : outcomeStyled(result.outcome, style)
    : outcomeStyled(result.outcome, style)
  lines.push(`${style.bold(title)}  ${header.rolloutId}`)
  if (result.reason !== undefined && !(manual && result.outcome === "rolledBack"))
    lines.push(row(style, "reason", result.reason))
  const planned = header.plan.waves.reduce((n, w) => n + w.targets.length, 0)
  if (manual) {
    lines.push(
      row(
        style,
        "image",
        `${header.image} → back to ${from === undefined ? "previous" : versionOf(from, header.image)}`
      )
    )
    const total = header.machineInput.rollbackTargets?.length ?? result.touched.length
    lines.push(
      row(
        style,
        "targets",
        `${result.rolledBack.length}/${total} restored${result.rollbackFailed.length > 0 ? style.red(`, ${result.rollbackFailed.length} could not be restored`) : ""}`
      )
    )
  } else {
    const to = header.image
    const previous = Object.values(header.previous).map((r) => r.image)
    let image = fleetChange(previous, to)
    if (result.outcome === "rolledBack" || (result.rolledBack.length > 0 && result.outcome !== "completed"))
      image += `, rolled back to ${
        from === undefined
          ? "the previous revision"
          : replacedImages(previous, to).length > 1
            ? "each target's previous version"
            : versionOf(from, to)
      }`
    lines.push(row(style, "image", image))
    const parts: string[] = []
    if (result.outcome === "completed") {
      parts.push(`${result.updated.length}/${planned} updated`)
    } else if (result.touched.length === 0) {
      parts.push(`${planned} planned, none touched`)
    } else {
      const healthy = result.updated.length
      parts.push(
        `${result.touched.length}/${planned} touched${healthy > 0 && result.rolledBack.length > 0 ? ` (${healthy} had become healthy)` : healthy > 0 ? `, ${healthy} updated` : ""}`
      )
      if (result.rolledBack.length > 0) parts.push(`${result.rolledBack.length} rolled back`)
      if (result.rollbackFailed.length > 0) parts.push(style.red(`${result.rollbackFailed.length} failed to roll back`))
      const untouched = planned - result.touched.length
      if (untouched > 0) parts.push(`${untouched} never touched`)
    }
    if (header.plan.upToDate.length > 0) parts.push(`${header.plan.upToDate.length} already up to date`)
    lines.push(row(style, "targets", parts.join(", ")))
    const waves = header.plan.waves.length
    if (waves > 0) {
      const reached = result.outcome === "completed" ? waves : Math.min(waves, (input.waveIndex ?? waves - 1) + 1)
      const kinds = header.plan.waves.map((w) => `${w.kind} ${w.targets.length}`)
      const shown = kinds.length > 6 ? [...kinds.slice(0, 6), "…"] : kinds
      lines.push(
        row(
          style,
          "waves",
          result.outcome === "completed"
            ? `${waves}/${waves} (${shown.join(", ")})`
            : result.touched.length === 0
              ? `0/${waves} started`
              : `reached ${reached}/${waves} (${shown.join(", ")})`
        )
      )
    }
  }
  const tolerated = result.failedWithinBudget ?? []
  if (tolerated.length > 0) {
    const shown = tolerated.slice(0, 8).join(", ")
    lines.push(
      row(
        style,
        "budget",
        style.yellow(
          `${tolerated.length} failed within the failure budget and were rolled back on their own: ${shown}${tolerated.length > 8 ? ` … and ${tolerated.length - 8} more` : ""}`
        )
      )
    )
  }
  if (result.rollbackFailed.length > 0) {
    const shown = result.rollbackFailed.slice(0, 8).join(", ")
    lines.push(
      row(
        style,
        "attention",
        style.red(
          `not restored: ${shown}${result.rollbackFailed.length > 8 ? ` … and ${result.rollbackFailed.length - 8} more` : ""}`
        )
      )
    )
  }
  // What the adapter put back (or deliberately left) once the outcome was known, e.g. a
  // DaemonSet's own update strategy.
  const concluded = result.concluded
  if (concluded !== undefined) {
    const notes = concluded.notes.length > 0 ? concluded.notes : concluded.ok ? [] : ["failed"]
    notes.forEach((note, i) => {
      const label = i > 0 ? "" : concluded.ok ? "concluded" : "attention"
      lines.push(row(style, label, concluded.ok ? note : style.red(`could not conclude: ${note}`)))
    })
  }
  if (input.durationMs !== undefined) lines.push(row(style, "duration", formatMs(input.durationMs)))
  const extras: string[] = []
  if (input.warnings !== undefined && input.warnings > 0) extras.push(plural(input.warnings, "policy warning"))
  if (input.retries !== undefined && input.retries > 0)
    extras.push(`${plural(input.retries, "transient error")} retried`)
  if (extras.length > 0) lines.push(row(style, "notes", extras.join(", ")))
  if (result.violations.length > 0) {
    const hit = new Set(result.violations.map((v) => v.targetId)).size
    lines.push(
      row(
        style,
        "violations",
        `${plural(result.violations.length, "violation")} on ${plural(hit, "target")}${result.outcome === "blocked" ? " — no target was touched" : ""}`
      )
    )
    lines.push(...formatViolations(result.violations, style, "    "))
  }
  return lines
}
