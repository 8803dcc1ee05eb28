import { Exit } from "effect"
import { flag, type Parsed } from "../args.js"
import { listRollouts, loadStatus, type RolloutStatus } from "../describe.js"
import type { Io } from "../io.js"
import { makeStyle } from "../render/style.js"
import { summaryLines } from "../render/summary.js"
import { formatMs, outcomeLabel, versionOf } from "../render/text.js"
import { fileStore, reportFailure, runStoreEffect, storeRootOf } from "../runtime.js"

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
      else io.out(`no rollouts in ${root}\n`)
      return 0
    }
    id = latest.rolloutId
  }
  const loaded = await runStoreEffect(store, loadStatus(store, id))
  if (Exit.isFailure(loaded)) return reportFailure(io, loaded.cause)
  const { status, inspected } = loaded.value
  if (flag(parsed, "json")) {
    io.out(`${JSON.stringify(status, null, 2)}\n`)
    return 0
  }
  const style = makeStyle(io.color)
  const row = (label: string, value: string) => `  ${style.dim(label.padEnd(11))}${value}`
  if (inspected.result !== undefined) {
    const finishedAt = inspected.entries[inspected.entries.length - 1]?.at
    io.out(
      `${summaryLines(
        {
          header: inspected.header,
          result: inspected.result,
          ...(finishedAt === undefined ? {} : { durationMs: finishedAt - inspected.header.createdAt }),
          waveIndex: inspected.snapshot.context.waveIndex
        },
        style
      ).join("\n")}\n`
    )
    io.out(`${row("created", `${status.createdAt} (${ago(status.createdAt)} ago)`)}\n`)
    return 0
  }
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
        `${status.wave.number}/${status.wave.total}${status.wave.kind === undefined ? "" : ` (${status.wave.kind})`}`
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
  lines.push(row("created", `${status.createdAt} (${ago(status.createdAt)} ago)`))
  io.out(`${lines.join("\n")}\n`)
  return 0
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
    io.out(`no rollouts in ${root}\n`)
    return 0
  }
  const rows = statuses.map((s) => [
    s.rolloutId,
    s.finished && s.outcome !== undefined ? outcomeLabel[s.outcome] : s.phase,
    versionOf(s.image),
    s.mode === "rollback"
      ? `${s.counts.rolledBack}/${s.counts.planned} restored`
      : `${s.counts.updated}/${s.counts.planned}`,
    `${ago(s.createdAt)} ago`
  ])
  const head = ["ID", "STATE", "VERSION", "UPDATED", "CREATED"]
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd()
  io.out(`${[line(head), ...rows.map(line)].join("\n")}\n`)
  return 0
}
