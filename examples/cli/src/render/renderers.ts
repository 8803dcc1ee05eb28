import type { RolloutEvent, RolloutHeader, RolloutResult } from "@sluice/core"
import type { Io } from "../io.js"
import { ProgressModel } from "./model.js"
import { makeStyle, type Style, stripAnsi, visibleLength } from "./style.js"
import { summaryLines } from "./summary.js"
import { fleetChange, formatMs, plural, versionOf } from "./text.js"

export type OutputMode = "tty" | "plain" | "json"

export interface Renderer {
  readonly model: ProgressModel
  readonly event: (e: RolloutEvent) => void
  /** The run ended with a result: print the summary (or the JSON result line). */
  readonly finish: (result: RolloutResult, exitCode: number) => void
  /** Stop drawing (before printing an error or on Ctrl-C). */
  readonly stop: () => void
}

/**
 * `wave 2 (3/6, batch)`: waves are numbered from 0 everywhere (the plan table, the spec's
 * `manualApproval.before`, the events, the core's failure reasons); the position out of the total follows.
 */
export const waveLabel = (model: ProgressModel, wave: number) => {
  const total = model.waves.length
  const w = model.waves[wave]
  return `wave ${wave} (${wave + 1}/${total}${w === undefined ? "" : `, ${w.kind}`})`
}

const byTopology = (counts: Readonly<Record<string, number>>) => {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))
  return entries.length <= 1 && entries[0]?.[0] === "all" ? "" : ` — ${entries.map(([k, n]) => `${k} ${n}`).join(", ")}`
}

/** One line for the events worth a line of their own; `undefined` for the rest. */
export const describeEvent = (e: RolloutEvent, model: ProgressModel, style: Style, verbose: boolean) => {
  switch (e.type) {
    case "rolloutStarted": {
      if (model.rollbackRun) {
        return `${style.bold("rollback")} ${e.rolloutId}: restoring ${plural(model.rollbackTotal, "target")} of ${model.header?.image ?? e.image}${e.resumed ? " (resumed)" : ""}`
      }
      const previous = model.header === undefined ? [] : Object.values(model.header.previous).map((r) => r.image)
      const waves = e.waves.map((w) => `${w.kind} ${w.size}`)
      return `${style.bold(e.resumed ? "resumed" : "rollout")} ${e.rolloutId}: ${fleetChange(previous, e.image)} on ${plural(e.targets, "target")} (${e.adapter})${e.upToDate > 0 ? `, ${e.upToDate} already up to date` : ""}; ${plural(e.waves.length, "wave")}: ${waves.length > 8 ? `${waves.slice(0, 8).join(", ")}, …` : waves.join(", ")}`
    }
    case "gateDecided": {
      const where = e.wave === undefined ? "" : ` (${waveLabel(model, e.wave)})`
      if (e.allow) {
        // The pre-flight gate says it all; the per-wave re-checks only speak up when they deny.
        if (e.wave !== undefined && !verbose) return undefined
        const warn =
          e.warnings.length > 0
            ? style.yellow(` — ${plural(e.warnings.length, "warning")}: ${groupWarnings(e.warnings)}`)
            : ""
        // The signature gate names what it verified and who signed it (the operator's audit line).
        const signed =
          e.signature === undefined
            ? ""
            : `: ${e.signature.digest} signed by ${e.signature.signer.kind === "key" ? `key ${e.signature.signer.fingerprint}` : `${e.signature.signer.subject} (OIDC issuer ${e.signature.signer.issuer}, certificate ${e.signature.signer.certificate})`} (${e.signature.source})`
        return `${style.green("✓")} ${e.gate} gate passed${where}${signed}${warn}`
      }
      const targets = new Set(e.violations.map((v) => v.targetId)).size
      return `${style.red("✗")} ${e.gate} gate denied${where}: ${plural(e.violations.length, "violation")} on ${plural(targets, "target")}${e.violations[0] === undefined ? "" : ` — first: ${e.violations[0].targetId}: [${e.violations[0].rule}] ${e.violations[0].message}`}`
    }
    case "waveStarted":
      return `${style.cyan("▶")} ${waveLabel(model, e.wave)} started: ${plural(e.targets, "target")}${byTopology(e.byTopology)}`
    case "waveHealthy":
      return `${style.green("✓")} ${waveLabel(model, e.wave)} healthy — ${model.updated.size}/${model.totalTargets} updated`
    case "awaitingApproval":
      return `${style.yellow("⏸")} ${waveLabel(model, e.wave)} awaits approval: \`sluice approve ${e.rolloutId}\``
    case "paused":
      return e.reason === "operator"
        ? `${style.yellow("⏸")} paused by an operator at ${waveLabel(model, e.wave)}: \`sluice resume ${e.rolloutId}\` continues`
        : `${style.yellow("⏸")} pause after ${waveLabel(model, e.wave)}${pauseText(model, e.wave, e.rolloutId)}`
    case "resumed":
      return `${style.cyan("▶")} resumed at ${waveLabel(model, e.wave)}`
    case "targetFailed":
      return `${style.red("✗")} ${e.targetId} failed in ${waveLabel(model, e.wave)}: ${e.reason}`
    case "rollbackStarted": {
      // Which targets the wave was waiting for, and the last thing the adapter said about them.
      const stuck = model.notHealthy
      const shown = stuck.slice(0, 3).map((id) => {
        const why = model.unhealthyReason.get(id)
        return `${id}${why === undefined ? "" : ` (${why})`}`
      })
      const more = stuck.length > shown.length ? `\n    … and ${stuck.length - shown.length} more` : ""
      const detail = shown.length === 0 ? "" : `\n  not healthy: ${shown.join("\n               ")}${more}`
      return `${style.yellow("↺")} rolling back ${plural(e.targets, "target")}: ${e.reason}${detail}`
    }
    case "targetRolledBack":
      return e.ok
        ? verbose
          ? `  ${e.targetId} rolled back to ${versionOf(e.to)}`
          : rollbackMilestone(model)
        : `${style.red("✗")} ${e.targetId} could not be rolled back to ${versionOf(e.to)}: ${e.reason ?? "unknown"}`
    case "retrying":
      return verbose
        ? style.dim(`  retrying ${e.operation}${e.targetId === undefined ? "" : ` on ${e.targetId}`}: ${e.message}`)
        : undefined
    case "concluded":
      return e.notes.map((note) => (e.ok ? `${style.cyan("ℹ")} ${note}` : `${style.red("✗")} ${note}`)).join("\n")
    case "targetUpdating":
      return verbose
        ? `  ${e.targetId}${e.topology === undefined ? "" : ` (${e.topology})`}: ${versionOf(e.from)} → ${versionOf(e.to, e.from)}`
        : undefined
    case "healthChanged":
      return verbose && e.wave >= 0
        ? style.dim(`  ${e.targetId} ${e.status}${e.reason === undefined ? "" : `: ${e.reason}`}`)
        : undefined
    case "finished":
      if (model.rollbackTotal === 0) return undefined
      return model.rollbackFailed.size > 0
        ? `${style.red("✗")} rollback finished: ${model.rolledBack.size}/${model.rollbackTotal} restored, ${style.red(`${model.rollbackFailed.size} could not be restored`)}`
        : `${style.green("✓")} rollback finished: ${model.rolledBack.size}/${model.rollbackTotal} restored`
    default:
      return undefined
  }
}

/**
 * A rollback's progress without -v: a line at each tenth of the targets to restore (for 10 or
 * more), so a long rollback is not silent between "rolling back" and "rollback finished".
 */
const rollbackMilestone = (model: ProgressModel) => {
  const total = model.rollbackTotal
  const done = model.rolledBack.size
  if (total < 10 || done >= total) return undefined
  const step = Math.ceil(total / 10)
  return done % step === 0 ? `  rolled back ${done}/${total}` : undefined
}

/**
 * A line of the live block that fits the terminal: an overlong one is cut at the last space that
 * fits (never in the middle of a word, unless the word alone is wider) and ends with "…". Styling
 * is dropped from a cut line rather than cut an escape sequence in half.
 */
export const fitLine = (line: string, width: number): string => {
  if (visibleLength(line) <= width) return line
  const plain = stripAnsi(line)
  const room = plain.slice(0, width - 1)
  const space = room.lastIndexOf(" ")
  const cut = space > room.length - room.trimStart().length ? room.slice(0, space).trimEnd() : room
  return `${cut}…`
}

/** `[rule] message (×500)`, the two most frequent. */
const groupWarnings = (warnings: ReadonlyArray<{ readonly rule: string; readonly message: string }>) => {
  const counts = new Map<string, number>()
  for (const w of warnings) {
    const key = `[${w.rule}] ${w.message}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1])
  const shown = top.slice(0, 2).map(([k, n]) => (n > 1 ? `${k} (×${n})` : k))
  return `${shown.join("; ")}${top.length > 2 ? `; and ${top.length - 2} more` : ""}`
}

const pauseText = (model: ProgressModel, wave: number, rolloutId: string) => {
  const pause = model.header?.plan.waves[wave]?.pauseAfter
  if (pause === undefined) return ""
  return pause.kind === "duration"
    ? ` for ${formatMs(pause.ms)} (\`sluice promote ${rolloutId}\` skips it)`
    : ` until resumed: \`sluice resume ${rolloutId}\` (or promote)`
}

const printSummary = (io: Io, model: ProgressModel, result: RolloutResult, style: Style) => {
  const header = model.header
  if (header === undefined) return
  const lines = summaryLines(
    {
      header,
      result,
      ...(model.finished === undefined ? {} : { durationMs: model.finished.durationMs }),
      waveIndex: Math.max(0, model.wave),
      warnings: new Set(model.warnings.map((w) => `${w.targetId}\u0000${w.rule}\u0000${w.message}`)).size,
      retries: model.retries
    },
    style
  )
  io.out(`\n${lines.join("\n")}\n`)
}

/** `--json`: every RolloutEvent as one line, then one `{"type":"result"}` line. */
export const jsonRenderer = (io: Io): Renderer => {
  const model = new ProgressModel()
  return {
    model,
    event: (e) => {
      model.apply(e)
      io.out(`${JSON.stringify(e)}\n`)
    },
    finish: (result, exitCode) => io.out(`${JSON.stringify({ type: "result", ...result, exitCode })}\n`),
    stop: () => {}
  }
}

/** Not a terminal: one line per meaningful event, prefixed with the time since start. */
export const plainRenderer = (io: Io, verbose: boolean): Renderer => {
  const model = new ProgressModel()
  const style = makeStyle(io.color)
  return {
    model,
    event: (e) => {
      model.apply(e)
      const line = describeEvent(e, model, style, verbose)
      if (line !== undefined)
        io.out(`${style.dim(`[${formatMs(Date.now() - model.startedAt).padStart(6)}]`)} ${line}\n`)
    },
    finish: (result) => printSummary(io, model, result, style),
    stop: () => {}
  }
}

const BAR = 24
const bar = (
  style: Style,
  c: { total: number; updated: number; inFlight: number; failed: number; rolledBack: number }
) => {
  if (c.total === 0) return " ".repeat(BAR)
  const cells = (n: number) => Math.round((n / c.total) * BAR)
  const done = Math.min(BAR, cells(c.updated))
  const back = Math.min(BAR - done, cells(c.rolledBack))
  const flight = Math.min(BAR - done - back, Math.max(c.inFlight > 0 ? 1 : 0, cells(c.inFlight + c.failed)))
  return (
    style.green("█".repeat(done)) +
    style.yellow("█".repeat(back)) +
    style.cyan("▒".repeat(flight)) +
    style.dim("░".repeat(BAR - done - back - flight))
  )
}

/** A terminal: a block redrawn in place (wave, per-zone bars, counts, recent events), log lines above it. */
export const ttyRenderer = (io: Io, verbose: boolean): Renderer => {
  const model = new ProgressModel()
  const style = makeStyle(io.color)
  /** The latest target events; an "updating" one leaves the list once its target is updated. */
  const recent: Array<{ readonly id: string; readonly text: string; readonly updating: boolean }> = []
  /** When each wave started and how long the healthy ones took: the ETA. */
  const waveStartedAt = new Map<number, number>()
  const waveDurations: number[] = []
  let drawn = 0
  let timer: NodeJS.Timeout | undefined
  let stopped = false

  const phaseText = () => {
    switch (model.phase) {
      case "starting":
        return "starting"
      case "gating":
        return "checking gates"
      case "applying":
        return "updating"
      case "healthy":
        return "wave healthy"
      case "paused":
        return style.yellow("paused (step)")
      case "held":
        return style.yellow("paused by operator")
      case "awaitingApproval":
        return style.yellow("awaiting approval")
      case "rollingBack":
        return style.yellow(`rolling back ${model.rolledBack.size + model.rollbackFailed.size}/${model.rollbackTotal}`)
      case "finished":
        return "finished"
    }
  }

  const block = (): string[] => {
    const width = Math.max(60, io.columns())
    const lines: string[] = []
    const elapsed = formatMs(Date.now() - model.startedAt)
    const header = model.header
    const previous = header === undefined ? [] : Object.values(header.previous).map((r) => r.image)
    lines.push(
      `${style.bold(model.rollbackRun ? "rollback" : "rollout")} ${header?.rolloutId ?? ""}  ${style.dim(`${model.adapter} · ${elapsed}`)}`
    )
    lines.push(
      `  ${model.rollbackRun ? `${model.image} → previous` : fleetChange(previous, model.image || (header?.image ?? ""))}`
    )
    const waveText =
      model.rollbackRun || model.wave < 0
        ? ""
        : `${waveLabel(model, Math.min(model.wave, model.waves.length - 1))} · ${plural(model.waveTargets, "target")} · `
    lines.push(`  ${waveText}${phaseText()}`)
    const zones = model.zones()
    const labelW = Math.max(5, ...zones.map(([z]) => z.length))
    const row = (label: string, c: (typeof zones)[number][1]) => {
      const parts = [`${String(c.updated).padStart(String(c.total).length)}/${c.total}`]
      if (c.inFlight > 0) parts.push(style.cyan(`${c.inFlight} in flight`))
      if (c.failed > 0) parts.push(style.red(`${c.failed} failed`))
      if (c.rolledBack > 0) parts.push(style.yellow(`${c.rolledBack} rolled back`))
      return `    ${label.padEnd(labelW)}  ${bar(style, c)}  ${parts.join("  ")}`
    }
    if (zones.length > 1) for (const [z, c] of zones) lines.push(row(z, c))
    const total = zones.reduce(
      (acc, [, c]) => ({
        total: acc.total + c.total,
        updated: acc.updated + c.updated,
        inFlight: acc.inFlight + c.inFlight,
        failed: acc.failed + c.failed,
        rolledBack: acc.rolledBack + c.rolledBack
      }),
      { total: 0, updated: 0, inFlight: 0, failed: 0, rolledBack: 0 }
    )
    lines.push(row("total", total))
    if (model.retries > 0)
      lines.push(style.dim(`  ${plural(model.retries, "transient error")} retried; last: ${model.lastRetry ?? ""}`))
    const next = nextText()
    if (next !== undefined) lines.push(style.dim(`  ${next}`))
    const shown = recent.filter((r) => !(r.updating && model.updated.has(r.id))).slice(-3)
    for (const r of shown) lines.push(style.dim(`  · ${r.text}`))
    return lines.map((l) => fitLine(l, width))
  }

  /** `next: wave 3 (4/6, batch) · ETA ~12s`: the next wave and the time left at the pace so far. */
  const nextText = (): string | undefined => {
    if (model.rollbackRun || model.wave < 0 || model.phase === "rollingBack" || model.phase === "finished")
      return undefined
    const total = model.waves.length
    const next = model.wave + 1
    if (next >= total) return undefined
    const parts = [`next: ${waveLabel(model, next)}`]
    if (waveDurations.length > 0) {
      const perWave = waveDurations.reduce((a, b) => a + b, 0) / waveDurations.length
      const pauses = (model.header?.plan.waves ?? [])
        .slice(model.wave)
        .reduce((ms, w) => ms + (w.pauseAfter?.kind === "duration" ? w.pauseAfter.ms : 0), 0)
      parts.push(`ETA ~${formatMs(perWave * (total - model.wave) + pauses)}`)
    }
    return parts.join(" · ")
  }

  const clear = () => {
    if (drawn > 0) io.out(`\x1b[${drawn}F\x1b[J`)
    drawn = 0
  }
  const draw = () => {
    if (stopped) return
    const lines = block()
    clear()
    io.out(`${lines.join("\n")}\n`)
    drawn = lines.length
  }
  const log = (line: string) => {
    clear()
    io.out(`${style.dim(`[${formatMs(Date.now() - model.startedAt).padStart(6)}]`)} ${line}\n`)
    draw()
  }

  io.out("\x1b[?25l")
  timer = setInterval(draw, 100)
  timer.unref()

  const stop = () => {
    if (stopped) return
    if (timer !== undefined) clearInterval(timer)
    timer = undefined
    draw()
    stopped = true
    io.out("\x1b[?25h")
  }

  return {
    model,
    event: (e) => {
      model.apply(e)
      if (e.type === "waveStarted") waveStartedAt.set(e.wave, Date.now())
      if (e.type === "waveHealthy") {
        const started = waveStartedAt.get(e.wave)
        if (started !== undefined) waveDurations.push(Date.now() - started)
      }
      if (e.type === "targetUpdating" || e.type === "targetRolledBack" || e.type === "targetFailed") {
        const text =
          e.type === "targetUpdating"
            ? `${e.targetId} updating${e.topology === undefined ? "" : ` (${e.topology})`}`
            : e.type === "targetFailed"
              ? `${e.targetId} failed`
              : `${e.targetId} ${e.ok ? "rolled back" : "rollback failed"}`
        const i = recent.findIndex((r) => r.id === e.targetId)
        if (i >= 0) recent.splice(i, 1)
        recent.push({ id: e.targetId, text, updating: e.type === "targetUpdating" })
        if (recent.length > 20) recent.shift()
      }
      const line = describeEvent(e, model, style, verbose)
      if (line !== undefined) log(line)
    },
    finish: (result) => {
      recent.length = 0
      stop()
      printSummary(io, model, result, style)
    },
    stop
  }
}

export const makeRenderer = (io: Io, mode: OutputMode, verbose: boolean, header?: RolloutHeader): Renderer => {
  const r = mode === "json" ? jsonRenderer(io) : mode === "tty" ? ttyRenderer(io, verbose) : plainRenderer(io, verbose)
  if (header !== undefined) r.model.setHeader(header)
  return r
}
