import { type DeniedTarget, imageName, imageRepository, imageVersion, type Outcome, parseImageRef } from "@sluice/core"
import { Result } from "effect"
import type { Style } from "./style.js"

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** `850ms`, `12.3s`, `2m05s`, `1h02m`. */
export const formatMs = (ms: number): string => {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}

/**
 * An image as the progress view shows it: its name as written, its version, and its normalized
 * repository (to tell whether two images are versions of one thing). A string that is not a
 * reference is shown whole, as its own repository.
 */
const splitTag = (image: string) => {
  const parsed = parseImageRef(image)
  if (Result.isFailure(parsed)) return { repo: image, name: image, version: image }
  return { repo: imageRepository(image), name: imageName(parsed.success), version: imageVersion(parsed.success) }
}

/** The version part of an image (`2.0.0`), or the whole image when repositories differ. */
export const versionOf = (image: string, relativeTo?: string) => {
  const a = splitTag(image)
  if (relativeTo !== undefined && splitTag(relativeTo).repo !== a.repo) return image
  return a.version
}

/** `registry/agents/node-agent: 1.0.0 → 2.0.0`, or full images when the repositories differ. */
export const imageChange = (from: string | undefined, to: string) => {
  if (from === undefined) return to
  const a = splitTag(from)
  const b = splitTag(to)
  return a.repo === b.repo ? `${b.name}: ${a.version} → ${b.version}` : `${from} → ${to}`
}

/** The images a rollout replaces (not `to` itself), with how many targets ran each, most common first. */
export const replacedImages = (previous: Iterable<string>, to: string) => {
  const counts = new Map<string, number>()
  for (const image of previous) if (image !== to) counts.set(image, (counts.get(image) ?? 0) + 1)
  return [...counts.entries()]
    .map(([image, targets]) => ({ image, targets }))
    .sort((a, b) => b.targets - a.targets || a.image.localeCompare(b.image))
}

/**
 * `node-agent: 1.0.0 → 2.0.0`, or on a mixed fleet every version being replaced with its count,
 * most common first: `node-agent: 2.0.0 ×14, 1.0.0 ×6 → 3.0.0`.
 */
export const fleetChange = (previous: Iterable<string>, to: string) => {
  const replaced = replacedImages(previous, to)
  if (replaced.length <= 1) return imageChange(replaced[0]?.image, to)
  const b = splitTag(to)
  const sameRepo = replaced.every((r) => splitTag(r.image).repo === b.repo)
  const shown = replaced.slice(0, 3).map((r) => `${sameRepo ? splitTag(r.image).version : r.image} ×${r.targets}`)
  const list = `${shown.join(", ")}${replaced.length > 3 ? `, +${replaced.length - 3} more` : ""}`
  return sameRepo ? `${b.name}: ${list} → ${b.version}` : `${list} → ${to}`
}

/** The most common value (the fleet's "from" version when a few targets differ). */
export const mostCommon = (values: Iterable<string>): string | undefined => {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  let best: string | undefined
  let n = 0
  for (const [v, c] of counts)
    if (c > n) {
      best = v
      n = c
    }
  return best
}

export const outcomeLabel: Record<Outcome, string> = {
  completed: "completed",
  blocked: "blocked",
  failed: "failed",
  rolledBack: "rolled back",
  aborted: "aborted",
  rollbackFailed: "rollback failed"
}

export const outcomeStyled = (outcome: Outcome, style: Style) =>
  outcome === "completed"
    ? style.green(`✓ ${outcomeLabel[outcome]}`)
    : outcome === "rolledBack" || outcome === "aborted"
      ? style.yellow(`✗ ${outcomeLabel[outcome]}`)
      : style.red(`✗ ${outcomeLabel[outcome]}`)

const listTargets = (ids: ReadonlyArray<string>, max = 6) =>
  ids.length <= max ? ids.join(", ") : `${ids.slice(0, max).join(", ")} … and ${ids.length - max} more`

/**
 * Violations per target and container. Targets with exactly the same violations are grouped so
 * 500 identical nodes read as one entry (`--json` has the full list).
 */
export const formatViolations = (violations: ReadonlyArray<DeniedTarget>, style: Style, indent = "  "): string[] => {
  const byTarget = new Map<string, DeniedTarget[]>()
  for (const v of violations) {
    const xs = byTarget.get(v.targetId) ?? []
    xs.push(v)
    byTarget.set(v.targetId, xs)
  }
  const groups = new Map<string, { targets: string[]; violations: DeniedTarget[] }>()
  for (const [target, vs] of byTarget) {
    const key = vs
      .map((v) => `${v.container ?? ""}\u0000${v.rule}\u0000${v.message}`)
      .sort()
      .join("\u0001")
    const g = groups.get(key) ?? { targets: [], violations: vs }
    g.targets.push(target)
    groups.set(key, g)
  }
  const lines: string[] = []
  for (const g of groups.values()) {
    g.targets.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
    const head = g.targets.length === 1 && g.targets[0] === "*" ? "all targets" : listTargets(g.targets)
    lines.push(`${indent}${style.bold(head)}${g.targets.length > 1 ? style.dim(` (${g.targets.length} targets)`) : ""}`)
    const sorted = [...g.violations].sort((a, b) => (a.container ?? "").localeCompare(b.container ?? ""))
    for (const v of sorted) {
      const where = v.container === undefined ? "workload" : `container ${v.container}`
      lines.push(`${indent}  ${where}: ${style.red(`[${v.rule}]`)} ${v.message}`)
    }
  }
  return lines
}
