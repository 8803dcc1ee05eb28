import type { AnalysisVerdict, JournalEntry, RolloutHeader, RolloutProgress, RolloutResult } from "@sluice/core"

/** What the report is built from: one rollout as `inspectRollout` reads it from the store. */
export interface ReportInput {
  readonly header: RolloutHeader
  readonly entries: ReadonlyArray<JournalEntry>
  readonly progress: RolloutProgress
  readonly result: RolloutResult | undefined
  readonly state: string
}

const escapeHtml = (text: unknown) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)

const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`)

interface WaveSpan {
  readonly index: number
  readonly start: number
  end: number | undefined
  readonly outcome: "healthy" | "failed" | "running"
}

type Gate = { readonly at: number; readonly what: string; readonly allow: boolean; readonly detail: string }

/** The journal's story: wave spans, gate decisions, failures and the rollback, in time order. */
const storyOf = (entries: ReadonlyArray<JournalEntry>) => {
  const waves: WaveSpan[] = []
  const gates: Gate[] = []
  const failures: Array<{ readonly at: number; readonly target: string; readonly reason: string }> = []
  const controls: Array<{ readonly at: number; readonly signal: string; readonly ignored?: string }> = []
  const analyses: Array<{ readonly at: number; readonly wave: number; readonly verdict: AnalysisVerdict }> = []
  let rollbackAt: number | undefined
  let first: number | undefined
  let last: number | undefined
  for (const entry of entries) {
    first ??= entry.at
    last = entry.at
    if (entry.kind === "control") {
      controls.push({
        at: entry.at,
        signal: entry.request.signal,
        ...(entry.ignored ? { ignored: entry.ignored } : {})
      })
      continue
    }
    if (entry.kind === "intent" && entry.command.kind === "rollbackTargets") rollbackAt ??= entry.at
    if (entry.kind !== "event") continue
    const e = entry.event as { type: string } & Record<string, unknown>
    const current = waves[waves.length - 1]
    switch (e.type) {
      case "GATES_PASSED":
        gates.push({ at: entry.at, what: "policy and scan gates (pre-flight)", allow: true, detail: "passed" })
        break
      case "GATES_DENIED":
        gates.push({ at: entry.at, what: "policy and scan gates (pre-flight)", allow: false, detail: String(e.reason) })
        break
      case "WAVE_CHECKED":
        gates.push({ at: entry.at, what: `wave ${Number(e.wave)} gates`, allow: true, detail: "passed" })
        if (current !== undefined && current.end === undefined) current.end = entry.at
        waves.push({ index: Number(e.wave), start: entry.at, end: undefined, outcome: "running" })
        break
      case "WAVE_DENIED":
        gates.push({ at: entry.at, what: `wave ${Number(e.wave)} gates`, allow: false, detail: String(e.reason) })
        break
      case "ANALYSIS_PASSED":
        gates.push({ at: entry.at, what: `wave ${Number(e.wave)} analysis`, allow: true, detail: "passed" })
        for (const verdict of (e.verdicts as ReadonlyArray<AnalysisVerdict> | undefined) ?? [])
          analyses.push({ at: entry.at, wave: Number(e.wave), verdict })
        break
      case "ANALYSIS_FAILED":
        gates.push({
          at: entry.at,
          what: `wave ${Number(e.wave)} analysis`,
          allow: false,
          detail: String(e.reason)
        })
        for (const verdict of (e.verdicts as ReadonlyArray<AnalysisVerdict> | undefined) ?? [])
          analyses.push({ at: entry.at, wave: Number(e.wave), verdict })
        break
      case "TARGET_FAILED":
        failures.push({ at: entry.at, target: String(e.targetId), reason: String(e.reason) })
        break
    }
  }
  // A wave ended when the next began, or when the rollback or the run did.
  for (const [i, w] of waves.entries()) {
    const failed = rollbackAt !== undefined && i === waves.length - 1
    ;(w as { outcome: WaveSpan["outcome"] }).outcome = failed
      ? "failed"
      : w.end !== undefined || i < waves.length - 1
        ? "healthy"
        : "running"
    w.end ??= failed ? rollbackAt : last
  }
  return { waves, gates, failures, controls, analyses, rollbackAt, first: first ?? 0, last: last ?? 0 }
}

/** Targets per topology value and wave, each cell coloured by what became of its targets. */
const zoneGrid = (input: ReportInput) => {
  const { header, progress } = input
  const key = header.plan.topologyKey
  const zoneOf = new Map(header.plan.targets.map((t) => [t.id, key === undefined ? "all" : (t.labels[key] ?? "-")]))
  const state = new Map<string, string>()
  for (const id of progress.touched) state.set(id, "touched")
  for (const id of progress.updated) state.set(id, "updated")
  for (const id of progress.rolledBack) state.set(id, "rolledBack")
  for (const id of progress.rollbackFailed) state.set(id, "rollbackFailed")
  const zones = [...new Set(zoneOf.values())].sort()
  const rows = zones.map((zone) => {
    const cells = header.plan.waves.map((wave) => {
      const ids = wave.targets.filter((id) => zoneOf.get(id) === zone)
      const count = (s: string) => ids.filter((id) => state.get(id) === s).length
      const updated = count("updated")
      const rolledBack = count("rolledBack") + count("rollbackFailed")
      const cls =
        ids.length === 0
          ? "empty"
          : rolledBack > 0
            ? "rolledback"
            : updated === ids.length
              ? "updated"
              : updated + count("touched") > 0
                ? "partial"
                : "untouched"
      const label = ids.length === 0 ? "" : `${updated}/${ids.length}${rolledBack > 0 ? ` ↩${rolledBack}` : ""}`
      return `<td class="cell ${cls}" title="${escapeHtml(`${zone}, wave ${wave.index}: ${ids.length} target(s)`)}">${escapeHtml(label)}</td>`
    })
    return `<tr><th scope="row">${escapeHtml(zone)}</th>${cells.join("")}</tr>`
  })
  const head = header.plan.waves.map(
    (w) => `<th scope="col">wave ${w.index}<br><small>${escapeHtml(w.kind)}</small></th>`
  )
  return `<table class="grid" data-testid="zones"><thead><tr><th>${escapeHtml(key ?? "targets")}</th>${head.join("")}</tr></thead><tbody>${rows.join("")}</tbody></table>`
}

/** Wave bars over time (SVG), with the rollback marked. */
const timeline = (story: ReturnType<typeof storyOf>) => {
  const span = Math.max(1, story.last - story.first)
  const width = 760
  const row = 26
  const x = (at: number) => 110 + ((at - story.first) / span) * (width - 130)
  const bars = story.waves.map((w, i) => {
    const y = 22 + i * row
    const x1 = x(w.start)
    const x2 = Math.max(x1 + 2, x(w.end ?? story.last))
    return `<g class="wave ${w.outcome}" data-testid="wave-bar"><text x="8" y="${y + 15}">wave ${w.index}</text><rect x="${x1.toFixed(1)}" y="${y}" width="${(x2 - x1).toFixed(1)}" height="18" rx="3"><title>${escapeHtml(`wave ${w.index}: ${w.outcome}, ${seconds((w.end ?? story.last) - w.start)}`)}</title></rect></g>`
  })
  const height = 32 + Math.max(1, story.waves.length) * row
  const rollback =
    story.rollbackAt === undefined
      ? ""
      : `<line class="rollback" x1="${x(story.rollbackAt).toFixed(1)}" x2="${x(story.rollbackAt).toFixed(1)}" y1="16" y2="${height - 16}"/><text class="rollback" text-anchor="middle" x="${x(story.rollbackAt).toFixed(1)}" y="12">rollback</text>`
  return `<svg class="timeline" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="waves over time">${bars.join("")}${rollback}<text x="110" y="${height - 4}" class="axis">0 s</text><text x="${width - 60}" y="${height - 4}" class="axis">${escapeHtml(seconds(span))}</text></svg>`
}

type MetricVerdict = NonNullable<AnalysisVerdict["judgement"]>["metrics"][number]

const num = (x: number | undefined) => (x === undefined ? "–" : Number.isInteger(x) ? String(x) : x.toPrecision(4))

/**
 * One metric of a canary judgement as a strip plot (SVG): each baseline and each canary target's
 * value on a shared axis, their medians marked, the tolerance band's edges around the baseline
 * median when the verdict says where they are.
 */
const metricPlot = (m: MetricVerdict) => {
  const canary = m.canaryValues ?? []
  const baseline = m.baselineValues ?? []
  const all = [...canary, ...baseline]
  if (all.length === 0) return `<p class="none">no values to plot</p>`
  let lo = Math.min(...all)
  let hi = Math.max(...all)
  if (hi === lo) {
    lo -= 1
    hi += 1
  }
  const width = 520
  const x = (v: number) => 90 + ((v - lo) / (hi - lo)) * (width - 110)
  // A fixed jitter per position (no randomness: the same journal renders the same page).
  const dots = (values: ReadonlyArray<number>, y: number, cls: string) =>
    values
      .map(
        (v, i) =>
          `<circle class="${cls}" cx="${x(v).toFixed(1)}" cy="${(y + ((i * 7) % 11) - 5).toFixed(1)}" r="3.5"><title>${escapeHtml(num(v))}</title></circle>`
      )
      .join("")
  const median = (v: number | undefined, y: number, cls: string) =>
    v === undefined
      ? ""
      : `<line class="median ${cls}" x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${y - 12}" y2="${y + 12}"/>`
  return `<svg class="metric" data-testid="metric-plot" viewBox="0 0 ${width} 96" width="${width}" height="96" role="img" aria-label="${escapeHtml(`${m.name}: canary against baseline`)}"><text x="8" y="32">baseline</text><text x="8" y="70">canary</text>${dots(baseline, 28, "baseline")}${dots(canary, 66, "canary")}${median(m.baselineMedian, 28, "baseline")}${median(m.canaryMedian, 66, "canary")}<text class="axis" x="90" y="92">${escapeHtml(num(lo))}</text><text class="axis" text-anchor="end" x="${width - 20}" y="92">${escapeHtml(num(hi))}</text></svg>`
}

/** Each analysis run's verdict: its tally and, for a canary judgement, every metric with its plot. */
const analysisSection = (analyses: ReturnType<typeof storyOf>["analyses"], at: (t: number) => string) => {
  if (analyses.length === 0) return `<p class="none">no analysis ran</p>`
  return analyses
    .map(({ at: t, wave, verdict: v }) => {
      const ok = v.phase === "Successful"
      const judgement = v.judgement
      const metrics =
        judgement === undefined
          ? ""
          : `<p>judgement <strong>${escapeHtml(judgement.result)}</strong>, score ${escapeHtml(num(judgement.score))}: ${judgement.canary.length} canary against ${judgement.baseline.length} baseline target(s)</p>
<table class="metrics"><thead><tr><th>metric</th><th>group</th><th>class</th><th>p</th><th>shift</th><th>canary median</th><th>baseline median</th><th>plot</th></tr></thead><tbody>${judgement.metrics
              .map(
                (m) =>
                  `<tr data-testid="metric-row" class="${m.failed ? "deny" : "allow"}"><td>${escapeHtml(m.name)}${m.critical ? " <small>(critical)</small>" : ""}</td><td>${escapeHtml(m.group)}</td><td>${escapeHtml(m.classification)}</td><td>${escapeHtml(m.p === undefined ? "–" : m.p.toPrecision(3))}</td><td>${escapeHtml(num(m.estimate))}</td><td>${escapeHtml(num(m.canaryMedian))}</td><td>${escapeHtml(num(m.baselineMedian))}</td><td>${metricPlot(m)}</td></tr>`
              )
              .join("")}</tbody></table>`
      return `<section class="analysis" data-testid="analysis"><h3>${at(t)}wave ${wave}: <span class="${ok ? "allow" : "deny"}">${escapeHtml(v.analysis)} ${escapeHtml(v.phase.toLowerCase())}</span></h3><p>${escapeHtml(`${v.successful} successful, ${v.failed} failed, ${v.inconclusive} inconclusive, ${v.errors} error measurement(s)`)}: ${escapeHtml(v.reason)}</p>${metrics}</section>`
    })
    .join("\n")
}

/** One self-contained HTML page: no script, no external resource; every journal text escaped. */
export const renderReport = (input: ReportInput): string => {
  const { header, result, progress } = input
  const story = storyOf(input.entries)
  const outcome = result?.outcome ?? `running (${input.state})`
  const outcomeClass = result === undefined ? "running" : result.outcome === "completed" ? "ok" : "bad"
  const planned =
    header.machineInput.mode === "rollback"
      ? (header.machineInput.rollbackTargets?.length ?? 0)
      : header.plan.waves.reduce((n, w) => n + w.targets.length, 0)
  const list = <A>(items: ReadonlyArray<A>, empty: string, f: (a: A) => string) =>
    items.length === 0
      ? `<p class="none">${escapeHtml(empty)}</p>`
      : `<ul>${items.map((i) => `<li>${f(i)}</li>`).join("")}</ul>`
  const at = (t: number) => `<span class="at">+${escapeHtml(seconds(t - story.first))}</span>`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Sluice rollout ${escapeHtml(header.rolloutId)}: ${escapeHtml(outcome)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d232a;max-width:1000px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid #dde}
.outcome{display:inline-block;padding:2px 8px;border-radius:4px;font-weight:600}
.outcome.ok{background:#d8f5dd;color:#13612a}.outcome.bad{background:#fde0dc;color:#8a1c12}.outcome.running{background:#e4ecfb;color:#1f4b99}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}dt{color:#5a6472}dd{margin:0}
table.grid{border-collapse:collapse}table.grid th,table.grid td{border:1px solid #d7dce3;padding:4px 8px;text-align:center}
td.updated{background:#d8f5dd}td.rolledback{background:#fde0dc}td.partial{background:#fff3c4}td.untouched{background:#f1f3f6;color:#7a8490}td.empty{background:#fff}
svg.timeline text{font-size:12px;fill:#1d232a}svg .wave.healthy rect{fill:#3c9d5a}svg .wave.failed rect{fill:#c8412f}svg .wave.running rect{fill:#3f6fd1}
svg line.rollback{stroke:#c8412f;stroke-dasharray:4 3}svg text.rollback{fill:#c8412f}svg text.axis{fill:#7a8490}
h3{font-size:14px;margin:12px 0 4px}table.metrics{border-collapse:collapse}table.metrics th,table.metrics td{border-bottom:1px solid #e4e8ee;padding:2px 8px;text-align:left;vertical-align:middle}
svg.metric text{font-size:11px;fill:#1d232a}svg circle.baseline{fill:#8a96a8}svg circle.canary{fill:#3f6fd1}tr.deny svg circle.canary{fill:#c8412f}svg line.median{stroke:#1d232a;stroke-width:2}
.allow{color:#13612a}.deny{color:#8a1c12}.at{color:#7a8490;font-variant-numeric:tabular-nums;margin-right:6px}.none{color:#7a8490}
</style></head>
<body>
<h1>Rollout <code>${escapeHtml(header.rolloutId)}</code> <span class="outcome ${outcomeClass}" data-testid="outcome">${escapeHtml(outcome)}</span></h1>
<dl>
<dt>image</dt><dd>${escapeHtml(header.image)}</dd>
<dt>adapter</dt><dd>${escapeHtml(header.adapter)}</dd>
<dt>started</dt><dd>${escapeHtml(new Date(header.createdAt).toISOString())}</dd>
<dt>duration</dt><dd>${escapeHtml(seconds(story.last - story.first))}</dd>
<dt>targets</dt><dd data-testid="counts">${progress.updated.length}/${planned} updated, ${progress.rolledBack.length} rolled back${progress.rollbackFailed.length > 0 ? `, ${progress.rollbackFailed.length} failed to roll back` : ""}</dd>
${result?.reason === undefined ? "" : `<dt>reason</dt><dd data-testid="reason">${escapeHtml(result.reason)}</dd>`}
</dl>
<h2>Waves across ${escapeHtml(header.plan.topologyKey ?? "the fleet")}</h2>
${zoneGrid(input)}
<h2>Timeline</h2>
${timeline(story)}
<h2>Gate decisions</h2>
${list(story.gates, "no gate decided (the rollout did not get that far)", (g) => `${at(g.at)}<span class="${g.allow ? "allow" : "deny"}">${g.allow ? "✓" : "✗"} ${escapeHtml(g.what)}</span>: ${escapeHtml(g.detail)}`)}
<h2>Analysis</h2>
${analysisSection(story.analyses, at)}
<h2>Health</h2>
${list(story.failures, "no target failed", (f) => `${at(f.at)}<code>${escapeHtml(f.target)}</code>: ${escapeHtml(f.reason)}`)}
<h2>Rollback</h2>
${story.rollbackAt === undefined ? `<p class="none">no rollback</p>` : `<p data-testid="rollback">${at(story.rollbackAt)}rolled back ${progress.rolledBack.length} target(s)${progress.rollbackFailed.length > 0 ? `; ${progress.rollbackFailed.length} could not be rolled back` : ""}.</p>`}
<h2>Operator controls</h2>
${list(story.controls, "none", (c) => `${at(c.at)}${escapeHtml(c.signal.toLowerCase())}${c.ignored === undefined ? "" : ` (ignored: ${escapeHtml(c.ignored)})`}`)}
${
  result === undefined || result.violations.length === 0
    ? ""
    : `<h2>Violations</h2>${list(result.violations, "", (v) => `<code>${escapeHtml(v.targetId)}</code> [${escapeHtml(v.rule)}] ${escapeHtml(v.message)}`)}`
}
</body></html>
`
}
