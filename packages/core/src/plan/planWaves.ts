import type { Target } from "../domain/Target.js"
import { type CountOrPercent, resolveDown, resolveUp } from "../spec/CountOrPercent.js"
import { canonicalImage, isSameImage } from "../spec/ImageRef.js"
import type {
  ArtifactConfig,
  BlueGreenStrategy,
  CanaryStrategy,
  PartitionStrategy,
  RollingStrategy,
  RolloutSpec
} from "../spec/Rollout.js"
import { strategyKind } from "../spec/Rollout.js"
import { canonicalJson, sha256Hex } from "./canonicalJson.js"
import type { AnalysisRef, Inventory, InventoryItem, Plan, Wave, WaveKind, WavePause } from "./Plan.js"

/*
 * Rounding (documented contract, checked by the property tests):
 * - Percentages are of the ELIGIBLE fleet N (targets not already up to date).
 * - Batch sizes, preview size, surge and topology shares round UP (min 1 target).
 * - maxUnavailable rounds DOWN with a minimum of 1 (like Kubernetes), and never exceeds the wave.
 * - Canary: after the wave of a setWeight step w_i, the cumulative number of updated targets is
 *   C_i = min(N, max(ceil(w_i·N/100), C_{i-1} + 1)) — at least one new target per non-zero step.
 * - Topology: a wave whose nominal size is d takes at most perValueMax[v] = ceil(d·s_v/N) targets
 *   of a value v with s_v eligible targets (or maxSharePerWave of s_v, rounded up, min 1). When
 *   that cap keeps a wave from reaching its nominal size: rolling batches are just smaller (the
 *   next batch continues); a canary step, the preview, the promote or a final remainder wave
 *   spills into extra waves of the same kind (for canary, the step's `weight` sits on its last
 *   wave). With the default caps this does not happen in practice (each wave first gives every
 *   value its lower quota floor(C·s_v/N) of the cumulative target C); with maxSharePerWave it can.
 * - Topology `order: sequential`: the values run one after another — the listed `values` first,
 *   in their order, then the other values in sorted order (`""`, unlabelled, sorts first) — and a
 *   wave never spans two values. Sizes, weights and maxUnavailable are resolved against N exactly
 *   as above; a wave that would cross into the next value stops at the value's end (rolling: the
 *   value's last batch is short; canary: the step spills into one more wave, `weight` on its last
 *   wave, which also gets the step's pauses and analysis; canary without `rolling`: one final wave
 *   per remaining value; recreate: one wave per value). With maxSharePerWave a wave also takes at
 *   most that share of its value's targets (rounded up, min 1): perValueMax = {value: cap}.
 */

/** sha256 of the canonical JSON of an artifact config, to compare with a target's `configHash`. */
export function artifactConfigHash(config: ArtifactConfig): string {
  return sha256Hex(canonicalJson(config))
}

/** Whether an inventory item already runs exactly the desired artifact. */
export function isUpToDate(spec: RolloutSpec, item: InventoryItem): boolean {
  return upToDateCheck(spec)(item)
}

/**
 * {@link isUpToDate} for a whole inventory: the config hash is computed once, and each distinct
 * running image string is parsed once (a fleet runs a handful of images; parsing one per target
 * was a third of the planner's time at 100k targets).
 */
function upToDateCheck(spec: RolloutSpec): (item: InventoryItem) => boolean {
  const { image, config } = spec.spec.artifact
  const configHash = config === undefined ? undefined : artifactConfigHash(config)
  const sameImage = new Map<string, boolean>()
  return (item) => {
    let same = sameImage.get(item.image)
    if (same === undefined) {
      same = isSameImage(image, item.image)
      sameImage.set(item.image, same)
    }
    return same && (configHash === undefined || item.configHash === configHash)
  }
}

// ---------------------------------------------------------------------------------------------
// topology-aware target picking
// ---------------------------------------------------------------------------------------------

/**
 * The topology counts of each target array a picker handed out, in order of the values' first
 * appearance in it (the key order of `Wave.topologyCounts`). The pickers know them for free;
 * looking each target's value up again by id was about 40 % of the planner's time at 100k
 * targets. An array the planner builds itself (partition waves) is not in here and is counted
 * by lookup. Picked arrays are never modified afterwards, so the counts stay true.
 */
type PickedCounts = WeakMap<ReadonlyArray<string>, ReadonlyArray<readonly [string, number]>>

/**
 * Hands out targets group by group (a group = one topology value; a single group without a
 * topology key). For a step that should bring the cumulative count to C, every group first gets
 * its lower quota floor(C·size/N) (so each value keeps pace with the fleet and the last waves
 * fit their caps); the rest goes one target at a time to the group with the smallest updated
 * fraction (Webster: smallest (2·taken+1)/size; ties to the first value in sorted order). A
 * wave's targets are then interleaved round-robin across the values, in sorted value order.
 */
class Picker {
  readonly values: ReadonlyArray<string>
  private readonly groups: ReadonlyMap<string, ReadonlyArray<string>>
  private readonly taken = new Map<string, number>()
  private readonly total: number
  private left: number

  /** `ids` sorted; `valuesOfIds[i]` is the topology value of `ids[i]`. */
  constructor(
    ids: ReadonlyArray<string>,
    valuesOfIds: ReadonlyArray<string>,
    private readonly counted: PickedCounts
  ) {
    const groups = groupByValue(ids, valuesOfIds)
    this.values = [...groups.keys()].sort(compareStrings)
    this.groups = groups
    this.total = ids.length
    this.left = ids.length
  }

  get remaining(): number {
    return this.left
  }

  get updated(): number {
    return this.total - this.left
  }

  sizeOf(value: string): number {
    return this.groups.get(value)?.length ?? 0
  }

  /**
   * Up to `n` targets, at most `cap(v)` of value `v` (caps count within this call only), aiming
   * at a cumulative count of `goal` for the quotas (default: what this call would reach).
   */
  pick(n: number, cap?: (value: string) => number, goal: number = this.updated + n): Array<string> {
    const inWave = new Map<string, number>()
    const room = (v: string) => {
      const free = this.sizeOf(v) - (this.taken.get(v) ?? 0) - (inWave.get(v) ?? 0)
      return cap === undefined ? free : Math.min(free, cap(v) - (inWave.get(v) ?? 0))
    }
    let count = 0
    // 1. lower quotas
    for (const v of this.values) {
      if (count >= n) break
      const quota = this.total === 0 ? 0 : Math.floor((goal * this.sizeOf(v)) / this.total)
      const need = Math.min(quota - (this.taken.get(v) ?? 0), room(v), n - count)
      if (need > 0) {
        inWave.set(v, need)
        count += need
      }
    }
    // 2. Webster fill
    while (count < n) {
      let best: string | undefined
      let bestTaken = 0
      let bestSize = 1
      for (const v of this.values) {
        if (room(v) <= 0) continue
        const size = this.sizeOf(v)
        const t = (this.taken.get(v) ?? 0) + (inWave.get(v) ?? 0)
        if (best === undefined || (2 * t + 1) * bestSize < (2 * bestTaken + 1) * size) {
          best = v
          bestTaken = t
          bestSize = size
        }
      }
      if (best === undefined) break
      inWave.set(best, (inWave.get(best) ?? 0) + 1)
      count++
    }
    // 3. interleave round-robin across values
    const out: Array<string> = []
    const next = new Map(this.values.map((v) => [v, this.taken.get(v) ?? 0]))
    const end = new Map(this.values.map((v) => [v, (this.taken.get(v) ?? 0) + (inWave.get(v) ?? 0)]))
    while (out.length < count) {
      for (const v of this.values) {
        const i = next.get(v)!
        if (i < end.get(v)!) {
          out.push(this.groups.get(v)![i]!)
          next.set(v, i + 1)
        }
      }
    }
    for (const v of this.values) this.taken.set(v, end.get(v)!)
    this.left -= count
    // Round-robin in value order: the values appear in `out` in that order, those with targets.
    const counts: Array<readonly [string, number]> = []
    for (const v of this.values) {
      const k = inWave.get(v) ?? 0
      if (k > 0) counts.push([v, k])
    }
    this.counted.set(out, counts)
    return out
  }
}

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The ids of each topology value, in the order of `ids`. */
function groupByValue(ids: ReadonlyArray<string>, valuesOfIds: ReadonlyArray<string>): Map<string, Array<string>> {
  const groups = new Map<string, Array<string>>()
  for (let i = 0; i < ids.length; i++) {
    const v = valuesOfIds[i]!
    const g = groups.get(v)
    if (g === undefined) groups.set(v, [ids[i]!])
    else g.push(ids[i]!)
  }
  return groups
}

/**
 * `topology.order: sequential`: hands out targets value by value (the `first` values in their
 * order, then the others sorted; ids sorted within a value), never across a value's end.
 */
class Sequence {
  readonly values: ReadonlyArray<string>
  private readonly groups: ReadonlyMap<string, ReadonlyArray<string>>
  private index = 0
  private offset = 0
  private left: number

  constructor(
    ids: ReadonlyArray<string>,
    valuesOfIds: ReadonlyArray<string>,
    first: ReadonlyArray<string>,
    private readonly counted: PickedCounts
  ) {
    const groups = groupByValue(ids, valuesOfIds)
    const listed = [...new Set(first)].filter((v) => groups.has(v))
    const listedSet = new Set(listed)
    this.values = [...listed, ...[...groups.keys()].filter((v) => !listedSet.has(v)).sort(compareStrings)]
    this.groups = groups
    this.left = ids.length
  }

  get remaining(): number {
    return this.left
  }

  /** The value the next wave takes from (`undefined` when every target is handed out). */
  get current(): string | undefined {
    return this.values[this.index]
  }

  sizeOf(value: string): number {
    return this.groups.get(value)?.length ?? 0
  }

  /** Up to `n` targets, all of the current value (fewer when the value ends first). */
  pick(n: number): Array<string> {
    const v = this.current
    if (v === undefined || n <= 0) return []
    const group = this.groups.get(v)!
    const out = group.slice(this.offset, Math.min(group.length, this.offset + n))
    if (out.length > 0) this.counted.set(out, [[v, out.length]])
    this.offset += out.length
    this.left -= out.length
    if (this.offset >= group.length) {
      this.index++
      this.offset = 0
    }
    return out
  }
}

// ---------------------------------------------------------------------------------------------
// drafts
// ---------------------------------------------------------------------------------------------

interface Draft {
  readonly kind: WaveKind
  readonly targets: ReadonlyArray<string>
  weight?: number
  readonly maxUnavailable: CountOrPercent | "all"
  readonly surge: "none" | "all" | CountOrPercent
  readonly mode: "replace" | "surge"
  pauseAfter?: WavePause
  analysis: Array<AnalysisRef>
  readonly partition?: number
  readonly perValueMax?: Readonly<Record<string, number>>
  /** Force a manual approval before this wave (whatever gates.manualApproval says). */
  requireApproval?: boolean
  /** With `topology.groupBy`: the eligible size of the wave's set of groups (its "fleet"), and the set's index. */
  base?: number
  groupSet?: number
}

interface Ctx {
  /** Eligible fleet size. */
  readonly n: number
  readonly picker: Picker
  /** Set with `topology.order: sequential` (rolling, canary, recreate): hands out targets instead of `picker`. */
  readonly sequence: Sequence | undefined
  readonly topology: boolean
  readonly maxShare: CountOrPercent | undefined
  readonly targetOf: (id: string) => Target | undefined
  readonly warnings: Array<string>
}

const remainingOf = (ctx: Ctx): number => (ctx.sequence ?? ctx.picker).remaining

/**
 * Sequential: the next wave's targets, at most `n`, all of the current value, at most its
 * maxSharePerWave cap; with that cap as the wave's perValueMax.
 */
function pickSequential(
  ctx: Ctx,
  sequence: Sequence,
  n: number
): { targets: Array<string>; perValueMax: Record<string, number> | undefined } {
  const v = sequence.current
  if (v === undefined) return { targets: [], perValueMax: undefined }
  if (ctx.maxShare === undefined) return { targets: sequence.pick(n), perValueMax: undefined }
  const cap = Math.max(1, resolveUp(ctx.maxShare, sequence.sizeOf(v)))
  const perValueMax: Record<string, number> = {}
  Object.defineProperty(perValueMax, v, { value: cap, enumerable: true })
  return { targets: sequence.pick(Math.min(n, cap)), perValueMax }
}

/** Caps per topology value for a step of nominal size `d` (none without a topology key). */
function capsFor(ctx: Ctx, d: number): Record<string, number> | undefined {
  if (!ctx.topology) return undefined
  const caps: Record<string, number> = {}
  for (const v of ctx.picker.values) {
    const size = ctx.picker.sizeOf(v)
    const cap = ctx.maxShare !== undefined ? resolveUp(ctx.maxShare, size) : Math.ceil((d * size) / ctx.n)
    Object.defineProperty(caps, v, { value: Math.max(1, cap), enumerable: true })
  }
  return caps
}

/**
 * Takes a step of `d` targets as one wave, or several when topology caps keep a wave short.
 * Returns the drafts (the caller decorates the last one).
 */
function takeStep(
  ctx: Ctx,
  d: number,
  make: (targets: ReadonlyArray<string>, perValueMax: Record<string, number> | undefined) => Draft
): Array<Draft> {
  const out: Array<Draft> = []
  const sequence = ctx.sequence
  if (sequence !== undefined) {
    let left = Math.min(d, sequence.remaining)
    while (left > 0) {
      const { targets, perValueMax } = pickSequential(ctx, sequence, left)
      if (targets.length === 0) break
      out.push(make(targets, perValueMax))
      left -= targets.length
    }
    return out
  }
  const caps = capsFor(ctx, d)
  let left = Math.min(d, ctx.picker.remaining)
  const goal = ctx.picker.updated + left
  while (left > 0) {
    const targets = ctx.picker.pick(left, caps === undefined ? undefined : (v) => caps[v]!, goal)
    if (targets.length === 0) break
    out.push(make(targets, caps))
    left -= targets.length
  }
  return out
}

/**
 * Rolling batches of nominal size `b` until no target is left: one wave per pick, each at most
 * `b` (fewer when topology caps bind; the next batch continues; sequential: fewer at a value's end).
 */
function takeBatches(
  ctx: Ctx,
  b: number,
  make: (targets: ReadonlyArray<string>, perValueMax: Record<string, number> | undefined) => Draft
): Array<Draft> {
  const out: Array<Draft> = []
  const sequence = ctx.sequence
  if (sequence !== undefined) {
    while (sequence.remaining > 0) {
      const { targets, perValueMax } = pickSequential(ctx, sequence, b)
      if (targets.length === 0) break
      out.push(make(targets, perValueMax))
    }
    return out
  }
  const caps = capsFor(ctx, b)
  while (ctx.picker.remaining > 0) {
    const targets = ctx.picker.pick(b, caps === undefined ? undefined : (v) => caps[v]!)
    if (targets.length === 0) break
    out.push(make(targets, caps))
  }
  return out
}

const noAnalysis = (): Array<AnalysisRef> => []

function mergePause(a: WavePause | undefined, b: WavePause): WavePause {
  if (a === undefined) return b
  if (a.kind === "untilResumed" || b.kind === "untilResumed") return { kind: "untilResumed" }
  return { kind: "duration", ms: a.ms + b.ms }
}

const durationPause = (ms: number | undefined): WavePause | undefined =>
  ms === undefined || ms <= 0 ? undefined : { kind: "duration", ms }

function rollingDrafts(ctx: Ctx, rolling: RollingStrategy): Array<Draft> {
  const b = Math.max(1, resolveUp(rolling.batchSize, ctx.n))
  const drafts = takeBatches(ctx, b, (targets, perValueMax) => ({
    kind: "batch",
    targets,
    maxUnavailable: rolling.maxUnavailable,
    surge: rolling.maxSurge,
    mode: "replace",
    analysis: noAnalysis(),
    ...(perValueMax !== undefined ? { perValueMax } : {})
  }))
  const pause = durationPause(rolling.pauseBetweenWaves)
  if (pause !== undefined) drafts.slice(0, -1).forEach((d) => (d.pauseAfter = pause))
  return drafts
}

function canaryDrafts(ctx: Ctx, canary: CanaryStrategy): Array<Draft> {
  const drafts: Array<Draft> = []
  let cumulative = 0
  const batch = (
    targets: ReadonlyArray<string>,
    perValueMax: Record<string, number> | undefined,
    kind: WaveKind,
    mu: CountOrPercent
  ): Draft => ({
    kind,
    targets,
    maxUnavailable: mu,
    surge: "none",
    mode: "replace",
    analysis: noAnalysis(),
    ...(perValueMax !== undefined ? { perValueMax } : {})
  })
  for (const step of canary.steps) {
    const last = drafts[drafts.length - 1]
    if ("setWeight" in step) {
      if (step.setWeight === 0 || cumulative >= ctx.n) continue
      const target = Math.min(ctx.n, Math.max(Math.ceil((step.setWeight * ctx.n) / 100), cumulative + 1))
      const waves = takeStep(ctx, target - cumulative, (t, caps) => batch(t, caps, "canary", canary.maxUnavailable))
      cumulative = target
      const end = waves[waves.length - 1]
      if (end !== undefined) end.weight = step.setWeight
      drafts.push(...waves)
    } else if ("pause" in step) {
      if (last === undefined) continue
      const pause: WavePause =
        step.pause.duration === undefined ? { kind: "untilResumed" } : { kind: "duration", ms: step.pause.duration }
      if (pause.kind === "duration" && pause.ms === 0) continue
      last.pauseAfter = mergePause(last.pauseAfter, pause)
    } else if (last !== undefined) {
      for (const name of step.analysis.templates) {
        if (!last.analysis.some((a) => a.name === name)) last.analysis.push({ name })
      }
    }
  }
  if (remainingOf(ctx) > 0) {
    const rolling = canary.rolling
    const mu = rolling?.maxUnavailable ?? canary.maxUnavailable
    if (rolling === undefined) {
      drafts.push(...takeStep(ctx, remainingOf(ctx), (t, caps) => batch(t, caps, "batch", mu)))
    } else {
      const b = Math.max(1, resolveUp(rolling.batchSize, ctx.n))
      const rest = takeBatches(ctx, b, (t, caps) => batch(t, caps, "batch", mu))
      const pause = durationPause(rolling.pauseBetweenWaves)
      if (pause !== undefined) rest.slice(0, -1).forEach((d) => (d.pauseAfter = pause))
      drafts.push(...rest)
    }
  }
  return drafts
}

function blueGreenDrafts(ctx: Ctx, bg: BlueGreenStrategy): Array<Draft> {
  // The preview starts beside the old version (surge; the old stays until promoted); after the
  // promotion the rest is replaced.
  const wave =
    (kind: WaveKind) =>
    (targets: ReadonlyArray<string>, perValueMax: Record<string, number> | undefined): Draft => ({
      kind,
      targets,
      maxUnavailable: bg.maxUnavailable,
      surge: kind === "preview" ? "all" : "none",
      mode: kind === "preview" ? "surge" : "replace",
      analysis: noAnalysis(),
      ...(perValueMax !== undefined ? { perValueMax } : {})
    })
  const previewSize = Math.min(ctx.n, Math.max(1, resolveUp(bg.previewSize, ctx.n)))
  const preview = takeStep(ctx, previewSize, wave("preview"))
  const end = preview[preview.length - 1]
  if (end !== undefined) {
    const pause: WavePause | undefined = bg.autoPromote
      ? durationPause((bg.autoPromotionSeconds ?? 0) * 1000)
      : { kind: "untilResumed" }
    if (pause !== undefined) end.pauseAfter = pause
  }
  const promote = takeStep(ctx, ctx.picker.remaining, wave("promote"))
  return [...preview, ...promote]
}

function recreateDrafts(ctx: Ctx): Array<Draft> {
  if (ctx.n === 0) return []
  const wave = (targets: ReadonlyArray<string>): Draft => ({
    kind: "recreate",
    targets,
    maxUnavailable: "all",
    surge: "none",
    mode: "replace",
    analysis: noAnalysis()
  })
  const sequence = ctx.sequence
  if (sequence === undefined) return [wave(ctx.picker.pick(ctx.n))]
  // Sequential: one wave per topology value (maxSharePerWave does not apply, as without `order`).
  const drafts: Array<Draft> = []
  while (sequence.remaining > 0) drafts.push(wave(sequence.pick(sequence.remaining)))
  return drafts
}

function partitionDrafts(ctx: Ctx, partition: PartitionStrategy, ordinalCount: number): Array<Draft> {
  const thresholds = partition.partitions ?? (partition.steps ?? []).map((p) => Math.ceil((p * ordinalCount) / 100))
  const remaining = ctx.picker.pick(ctx.n)
  const withOrdinal = remaining.filter((id) => ctx.targetOf(id)?.ordinal !== undefined)
  const without = remaining.filter((id) => ctx.targetOf(id)?.ordinal === undefined)
  if (without.length > 0) {
    ctx.warnings.push(
      `partition: ${without.length} target(s) without an ordinal go in the last wave: ${without.slice(0, 5).join(", ")}${
        without.length > 5 ? ", …" : ""
      }`
    )
  }
  const ordinalOf = (id: string) => ctx.targetOf(id)?.ordinal ?? -1
  // Highest ordinal first (StatefulSet order), ties by id.
  const pending = [...withOrdinal].sort((a, b) => ordinalOf(b) - ordinalOf(a) || compareStrings(a, b))
  const done = new Set<string>()
  const drafts: Array<Draft> = []
  const between = durationPause(partition.pauseBetweenWaves)
  const lastThreshold = thresholds[thresholds.length - 1] ?? 0
  const steps = lastThreshold > 0 ? [...thresholds, 0] : thresholds
  steps.forEach((threshold, i) => {
    const isImplicitFinal = lastThreshold > 0 && i === steps.length - 1
    const targets = pending.filter((id) => !done.has(id) && ordinalOf(id) >= threshold)
    if (threshold === 0) targets.push(...without.filter((id) => !done.has(id)))
    for (const id of targets) done.add(id)
    if (targets.length === 0) return
    const prev = drafts[drafts.length - 1]
    if (prev !== undefined) {
      // The listed partitions stop above 0: hold there until resumed, then update the rest.
      if (isImplicitFinal) prev.pauseAfter = { kind: "untilResumed" }
      else if (prev.pauseAfter === undefined && between !== undefined) prev.pauseAfter = between
    }
    drafts.push({
      ...(isImplicitFinal && prev === undefined ? { requireApproval: true } : {}),
      kind: "partition",
      targets,
      maxUnavailable: partition.maxUnavailable,
      surge: "none",
      mode: "replace",
      analysis: noAnalysis(),
      partition: threshold
    })
  })
  return drafts
}

// ---------------------------------------------------------------------------------------------
// planWaves
// ---------------------------------------------------------------------------------------------

/**
 * Plans the waves of a rollout. Pure and deterministic: no I/O, clock or randomness; the
 * inventory's order does not matter (targets are sorted by id). Targets already running the
 * desired artifact go to `upToDate` and into no wave; every other target is in exactly one wave.
 */
export function planWaves(spec: RolloutSpec, inventory: Inventory): Plan {
  const warnings: Array<string> = []

  // One item per id, chosen independently of the inventory's order.
  const byIdItems = new Map<string, InventoryItem>()
  const duplicates = new Set<string>()
  for (const item of inventory) {
    const id = item.target.id
    const seen = byIdItems.get(id)
    if (seen === undefined) byIdItems.set(id, item)
    else {
      duplicates.add(id)
      if (compareStrings(canonicalJson(item), canonicalJson(seen)) < 0) byIdItems.set(id, item)
    }
  }
  for (const id of [...duplicates].sort(compareStrings)) {
    warnings.push(`duplicate target id "${id}" in the inventory: planned once`)
  }
  // The ids are unique here, so the default sort (UTF-16 code units, the order compareStrings
  // gives) sorts them alone: twice as fast as sorting the items with a comparator.
  const items = [...byIdItems.keys()].sort().map((id) => byIdItems.get(id)!)
  const targets = items.map((i) => i.target)
  // Lookups by id go through byIdItems: a second 100k-entry Map (id → target, id → value) cost
  // more to build than the lookups it would save.
  const targetOf = (id: string): Target | undefined => byIdItems.get(id)?.target

  // One pass: up to date or eligible, and each eligible target's topology value.
  const topology = spec.spec.topology
  const valueOfTarget = (t: Target): string => (topology === undefined ? "" : (t.labels[topology.key] ?? ""))
  const upToDateOf = upToDateCheck(spec)
  const upToDate: Array<string> = []
  const eligibleIds: Array<string> = []
  const eligibleValues: Array<string> = []
  for (const item of items) {
    const t = item.target
    if (upToDateOf(item)) upToDate.push(t.id)
    else {
      const v = valueOfTarget(t)
      eligibleIds.push(t.id)
      eligibleValues.push(v)
    }
  }
  const n = eligibleIds.length
  const topologyValueOf = (id: string): string => valueOfTarget(targetOf(id)!)

  const counted: PickedCounts = new WeakMap()
  const strategy = spec.spec.strategy
  const kind = strategyKind(strategy)
  const sequential =
    topology?.order === "sequential" && (kind === "rolling" || kind === "canary" || kind === "recreate")
  if (topology?.order === "sequential") {
    if (sequential) {
      const carried = new Set(targets.map(valueOfTarget))
      for (const v of new Set(topology.values ?? [])) {
        if (!carried.has(v)) warnings.push(`topology.values: no target has ${topology.key}=${JSON.stringify(v)}`)
      }
    } else {
      // The spec schema rejects this; a hand-built spec gets the default spreading.
      warnings.push(`topology.order: sequential does not apply to the ${kind} strategy: its waves spread instead`)
    }
  }

  // `topology.groupBy` (a level above the key, e.g. the cluster): the eligible targets split into
  // sets of `groupsAtOnce` groups, in sorted group order, and each set is planned below exactly as
  // a fleet of its own would be (sizes and budgets resolved against the set's size), its waves
  // after the previous set's. Planning a set as its own fleet keeps every rule the planner already
  // proves (caps, canary weights, sequential zones) true inside each set, with no new rounding.
  const groupKey = topology?.groupBy
  const groupOfTarget = (t: Target): string => (groupKey === undefined ? "" : (t.labels[groupKey] ?? ""))
  interface GroupSet {
    readonly groups: ReadonlyArray<string>
    readonly ids: Array<string>
    readonly values: Array<string>
  }
  const sets: Array<GroupSet> = []
  if (groupKey === undefined) sets.push({ groups: [], ids: eligibleIds, values: eligibleValues })
  else {
    const byGroup = new Map<string, { ids: Array<string>; values: Array<string> }>()
    eligibleIds.forEach((id, i) => {
      const g = groupOfTarget(targetOf(id)!)
      let entry = byGroup.get(g)
      if (entry === undefined) {
        entry = { ids: [], values: [] }
        byGroup.set(g, entry)
      }
      entry.ids.push(id)
      entry.values.push(eligibleValues[i]!)
    })
    const groups = [...byGroup.keys()].sort(compareStrings)
    const perSet = topology?.groupsAtOnce ?? 1
    for (let i = 0; i < groups.length; i += perSet) {
      const members = groups.slice(i, i + perSet)
      const ids: Array<string> = []
      const values: Array<string> = []
      // Merged back into id order: the pickers want their ids sorted.
      const memberSet = new Set(members)
      eligibleIds.forEach((id, j) => {
        if (memberSet.has(groupOfTarget(targetOf(id)!))) {
          ids.push(id)
          values.push(eligibleValues[j]!)
        }
      })
      sets.push({ groups: members, ids, values })
    }
  }

  const drafts: Array<Draft> = []
  const topologyValueSet = new Set<string>()
  const sequenceValues: Array<string> = []
  sets.forEach((set, setIndex) => {
    const picker = new Picker(set.ids, set.values, counted)
    for (const v of picker.values) topologyValueSet.add(v)
    const sequence = sequential ? new Sequence(set.ids, set.values, topology?.values ?? [], counted) : undefined
    if (sequence !== undefined) sequenceValues.push(...sequence.values)
    const ctx: Ctx = {
      n: set.ids.length,
      picker,
      sequence,
      topology: topology !== undefined,
      maxShare: topology?.maxSharePerWave,
      targetOf,
      warnings
    }
    let setDrafts: Array<Draft>
    if ("rolling" in strategy) setDrafts = rollingDrafts(ctx, strategy.rolling)
    else if ("canary" in strategy) setDrafts = canaryDrafts(ctx, strategy.canary)
    else if ("blueGreen" in strategy) setDrafts = blueGreenDrafts(ctx, strategy.blueGreen)
    else if ("recreate" in strategy) setDrafts = recreateDrafts(ctx)
    else {
      const inSet = new Set(set.groups)
      const ordinalCount = targets.filter(
        (t) => t.ordinal !== undefined && (groupKey === undefined || inSet.has(groupOfTarget(t)))
      ).length
      setDrafts = partitionDrafts(ctx, strategy.partition, ordinalCount)
    }
    if (groupKey !== undefined) {
      for (const d of setDrafts) {
        d.base = ctx.n
        d.groupSet = setIndex
      }
    }
    drafts.push(...setDrafts)
  })
  const topologyValues = [...topologyValueSet].sort(compareStrings)

  const approval = spec.spec.gates.manualApproval.before
  const approvalAt = (i: number): boolean =>
    approval === "every" ? true : approval === "first" ? i === 0 : approval === "none" ? false : approval.includes(i)
  if (Array.isArray(approval)) {
    const outOfRange = approval.filter((i) => i >= drafts.length)
    if (outOfRange.length > 0) {
      warnings.push(
        `gates.manualApproval.before: wave index(es) ${outOfRange.join(", ")} out of range (the plan has ${drafts.length} waves)`
      )
    }
  }

  let updated = 0
  const waves: Array<Wave> = drafts.map((d, index) => {
    const size = d.targets.length
    updated += size
    const base = d.base ?? n
    const maxUnavailable =
      d.maxUnavailable === "all" ? size : Math.min(size, Math.max(1, resolveDown(d.maxUnavailable, base)))
    const maxSurge = d.surge === "none" ? 0 : d.surge === "all" ? size : Math.min(size, resolveUp(d.surge, base))
    let topologyCounts: Record<string, number> | undefined
    if (topology !== undefined) {
      // Defined once per value in order of first appearance (the key order the plan's JSON has
      // always had); a defineProperty per target was a quarter of the time spent here.
      let counts: Iterable<readonly [string, number]> | undefined = counted.get(d.targets)
      if (counts === undefined) {
        const byValue = new Map<string, number>()
        for (const id of d.targets) {
          const v = topologyValueOf(id)
          byValue.set(v, (byValue.get(v) ?? 0) + 1)
        }
        counts = byValue
      }
      topologyCounts = {}
      for (const [v, count] of counts) {
        Object.defineProperty(topologyCounts, v, { value: count, enumerable: true, writable: true })
      }
    }
    return {
      index,
      kind: d.kind,
      targets: d.targets,
      ...(d.weight !== undefined ? { weight: d.weight } : {}),
      maxUnavailable,
      maxSurge,
      ...(d.pauseAfter !== undefined ? { pauseAfter: d.pauseAfter } : {}),
      analysis: d.analysis,
      approvalBefore: approvalAt(index) || d.requireApproval === true,
      mode: d.mode,
      updatedAfter: updated,
      ...(d.partition !== undefined ? { partition: d.partition } : {}),
      ...(topologyCounts !== undefined ? { topologyCounts } : {}),
      ...(d.perValueMax !== undefined ? { perValueMax: d.perValueMax } : {}),
      ...(d.groupSet !== undefined ? { groupSet: d.groupSet } : {})
    }
  })

  const failureBudget = topology?.maxFailuresPerGroup ?? 0
  const image = canonicalImage(spec.spec.artifact.image)
  const config = spec.spec.artifact.config
  const fingerprint = sha256Hex(
    canonicalJson({
      strategy: kind,
      image,
      configHash: config === undefined ? null : artifactConfigHash(config),
      topologyKey: topology?.key ?? null,
      ...(sequential ? { topologySequence: sequenceValues } : {}),
      ...(groupKey !== undefined ? { groupKey, groupSets: sets.map((g) => g.groups) } : {}),
      ...(failureBudget > 0 ? { maxFailuresPerGroup: failureBudget } : {}),
      upToDate,
      waves
    })
  )

  return {
    strategy: kind,
    ...(topology !== undefined ? { topologyKey: topology.key, topologyValues } : {}),
    ...(sequential ? { topologySequence: sequenceValues } : {}),
    ...(groupKey !== undefined ? { groupKey, groupSets: sets.map((g) => g.groups) } : {}),
    ...(failureBudget > 0 ? { maxFailuresPerGroup: failureBudget } : {}),
    targets,
    waves,
    upToDate,
    fingerprint,
    image,
    ...(warnings.length > 0 ? { warnings } : {})
  }
}
