import { parseDuration } from "@sluice/core"
import { type Effect, Exit } from "effect"
import { flag, type Parsed, str } from "../args.js"
import { listRollouts, loadStatus, type RolloutStatus } from "../describe.js"
import { UsageError } from "../errors.js"
import { ExitCode } from "../exitCodes.js"
import type { Io } from "../io.js"
import { makeStyle } from "../render/style.js"
import { summaryLines } from "../render/summary.js"
import { formatMs, outcomeLabel, versionOf } from "../render/text.js"
import { fileStore, reportFailure, runStoreEffect, storeLabelOf, storeRootOf } from "../runtime.js"
import { resultExit } from "./control.js"

const ago = (iso: string) => formatMs(Date.now() - Date.parse(iso))

export const runStatus = async (io: Io, parsed: Parsed): Promise<number> => {
  const root = storeRootOf(io, parsed)
  const store = fileStore(root)
  let id = parsed.positionals[0]
  if (id === undefined) {
    const all = await runStoreEffect(store, listRollouts(store))
    if (Exit.isFailure(all)) return reportFailure(io, all.cause)
    const latest = all.value[0]
    if (latest === undefined) {
      if (flag(parsed, "json")) io.out("null\n")
      else io.out(`no rollouts in ${storeLabelOf(root)}\n`)
      return 0
    }
    id = latest.rolloutId
  }
  if (flag(parsed, "watch") || flag(parsed, "wait")) return follow(io, parsed, store, id)
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { status, inspected } = loaded.value
  if (flag(parsed, "json")) {
    io.out(`${JSON.stringify(status, null, 2)}\n`)
    return 0
  }
  const style = makeStyle(io.color)
  if (inspected.result !== undefined) {
    io.out(`${finishedLines(status, inspected, style).join("\n")}\n`)
    return 0
  }
  io.out(`${[...statusLines(status, style), createdRow(status, style)].join("\n")}\n`)
  return 0
}

type Loaded = Effect.Success<ReturnType<typeof loadStatus>>
type Style = ReturnType<typeof makeStyle>

const rowOf = (style: Style) => (label: string, value: string) => `  ${style.dim(label.padEnd(11))}${value}`
const createdRow = (status: RolloutStatus, style: Style) =>
  rowOf(style)("created", `${status.createdAt} (${ago(status.createdAt)} ago)`)

const finishedLines = (status: RolloutStatus, inspected: Loaded["inspected"], style: Style) => {
  const finishedAt = inspected.entries[inspected.entries.length - 1]?.at
  return [
    ...summaryLines(
      {
        header: inspected.header,
        result: inspected.result!,
        ...(finishedAt === undefined ? {} : { durationMs: finishedAt - inspected.header.createdAt }),
        waveIndex: inspected.snapshot.context.waveIndex
      },
      style
    ),
    createdRow(status, style)
  ]
}

/** The block `sluice status` prints for a rollout that has not ended (without its age, which changes every second). */
const statusLines = (status: RolloutStatus, style: Style): Array<string> => {
  const row = rowOf(style)
  const lines = [`${style.bold(status.mode === "rollback" ? "rollback" : "rollout")} ${status.rolloutId}`]
  lines.push(row("image", `${status.image} (${status.adapter})`))
  lines.push(row("state", `${status.phase} ${style.dim(`[${status.state}]`)}`))
  lines.push(
    row(
      "process",
      status.running
        ? `running (${status.owner})`
        : style.yellow(`none — \`sluice resume ${status.rolloutId}\` continues it here`)
    )
  )
  if (status.mode === "rollout")
    lines.push(
      row(
        "wave",
        status.wave.total === 0
          ? "none"
          : `${status.wave.index} (${status.wave.index + 1}/${status.wave.total}${status.wave.kind === undefined ? "" : `, ${status.wave.kind}`})`
      )
    )
  const c = status.counts
  lines.push(
    row(
      "targets",
      `${c.updated}/${c.planned} updated, ${c.inFlight} in flight, ${c.touched} touched${c.rolledBack > 0 ? `, ${c.rolledBack} rolled back` : ""}${c.rollbackFailed > 0 ? style.red(`, ${c.rollbackFailed} failed to roll back`) : ""}${c.upToDate > 0 ? `, ${c.upToDate} already up to date` : ""}`
    )
  )
  if (status.reason !== undefined) lines.push(row("reason", status.reason))
  if (status.pendingControls.length > 0) lines.push(row("queued", status.pendingControls.join(", ")))
  if (status.awaitingApproval) lines.push(row("next", `sluice approve ${status.rolloutId}`))
  else if (status.paused) lines.push(row("next", `sluice resume ${status.rolloutId}`))
  return lines
}

/** One line per change when --watch does not draw on a terminal. */
const statusLine = (s: RolloutStatus) =>
  `${s.rolloutId}: ${s.phase}; ${s.counts.updated}/${s.counts.planned} updated, ${s.counts.inFlight} in flight${
    s.counts.rolledBack > 0 ? `, ${s.counts.rolledBack} rolled back` : ""
  }${s.running ? "" : "; no process runs it"}`

const POLL_MS = 250

/**
 * `status --watch` / `--wait`: reads the store until the rollout ends, then prints its summary
 * and returns its outcome's exit code (1 when --timeout runs out first).
 */
const follow = async (io: Io, parsed: Parsed, store: ReturnType<typeof fileStore>, id: string): Promise<number> => {
  const timeoutText = str(parsed, "timeout")
  const limitMs = timeoutText === undefined ? undefined : parseDuration(timeoutText)
  if (timeoutText !== undefined && limitMs === undefined)
    throw new UsageError({ message: `--timeout "${timeoutText}" is not a duration (like 10m)`, command: "status" })
  const watch = flag(parsed, "watch")
  const json = flag(parsed, "json")
  const style = makeStyle(io.color)
  const draw = watch && io.isTTY && !json
  const startedAt = Date.now()
  let last: string | undefined
  let drawnLines = 0
  let toldOrphan = false
  const clear = () => {
    if (drawnLines > 0) io.out(`\x1b[${drawnLines}F\x1b[J`)
    drawnLines = 0
  }
  for (;;) {
    const loaded = await runStoreEffect(store, loadStatus(store, id))
    if (Exit.isFailure(loaded)) {
      clear()
      return reportFailure(io, loaded.cause)
    }
    const { status, inspected } = loaded.value
    if (inspected.result !== undefined) {
      clear()
      if (json) io.out(`${JSON.stringify(status)}\n`)
      else io.out(`${finishedLines(status, inspected, style).join("\n")}\n`)
      return resultExit(inspected.header.machineInput.mode, inspected.result)
    }
    if (!status.running && !toldOrphan) {
      toldOrphan = true
      io.err(`note: no live process runs ${id}; waiting for \`sluice resume ${id}\` (or Ctrl-C)\n`)
    }
    if (watch) {
      const text = json ? JSON.stringify(status) : draw ? statusLines(status, style).join("\n") : statusLine(status)
      if (text !== last) {
        last = text
        clear()
        io.out(`${text}\n`)
        if (draw) drawnLines = text.split("\n").length
      }
    }
    if (limitMs !== undefined && Date.now() - startedAt >= limitMs) {
      clear()
      io.err(`error: rollout ${id} had not ended after ${timeoutText} (${status.phase}); it goes on\n`)
      return ExitCode.internal
    }
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

export const runList = async (io: Io, parsed: Parsed): Promise<number> => {
  const root = storeRootOf(io, parsed)
  const store = fileStore(root)
  const all = await runStoreEffect(store, listRollouts(store))
  if (Exit.isFailure(all)) return reportFailure(io, all.cause)
  const statuses: RolloutStatus[] = []
  for (const h of all.value) {
    const s = await runStoreEffect(store, loadStatus(store, h.rolloutId))
    if (Exit.isSuccess(s)) statuses.push(s.value.status)
  }
  if (flag(parsed, "json")) {
    io.out(`${JSON.stringify(statuses, null, 2)}\n`)
    return 0
  }
  if (statuses.length === 0) {
    io.out(`no rollouts in ${storeLabelOf(root)}\n`)
    return 0
  }
  const rows = statuses.map((s) => [
    s.rolloutId,
    s.finished && s.outcome !== undefined ? outcomeLabel[s.outcome] : s.phase,
    s.mode === "rollback"
      ? `${versionOf(s.image)} → previous`
      : `${s.replaces.length === 0 ? "" : `${s.replaces.map((r) => versionOf(r.image, s.image)).join("+")} → `}${versionOf(s.image)}`,
    s.mode === "rollback" ? "-" : `${s.counts.updated}/${s.counts.planned}`,
    s.counts.rolledBack === 0 && s.counts.rollbackFailed === 0
      ? "-"
      : `${s.counts.rolledBack}${s.counts.rollbackFailed > 0 ? ` (${s.counts.rollbackFailed} failed)` : ""}`,
    `${ago(s.createdAt)} ago`
  ])
  const head = ["ID", "STATE", "VERSION", "UPDATED", "RESTORED", "CREATED"]
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  io.out(`${[line(head), ...rows.map(line)].join("\n")}\n`)
  return 0
}
