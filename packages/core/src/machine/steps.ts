import { Flag, StatusVector } from "./status.js"
import type { Command, Failure, MachineInput, RolloutContext } from "./types.js"

/** A pure step: the context patch and the commands it asks for. */
export interface Step {
  readonly patch: Partial<RolloutContext>
  readonly commands: ReadonlyArray<Command>
}

const none: Step = { patch: {}, commands: [] }

// Derived from the input, which a run (and XState's initial-state evaluations) pass around as
// the same object: computed once per input, so every context of a run shares one `ids` array.
const idsCache = new WeakMap<MachineInput, ReadonlyArray<string>>()

/** Rollback targets first, then the waves' targets in plan order, each once. */
export const targetIdsOf = (input: MachineInput): ReadonlyArray<string> => {
  const cached = idsCache.get(input)
  if (cached !== undefined) return cached
  const ids = computeTargetIds(input)
  idsCache.set(input, ids)
  return ids
}

const computeTargetIds = (input: MachineInput): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const ids: string[] = []
  const add = (id: string) => {
    if (seen.has(id)) return
    seen.add(id)
    ids.push(id)
  }
  for (const id of input.rollbackTargets ?? []) add(id)
  for (const wave of input.waves) for (const id of wave.targets) add(id)
  return ids
}

// The index is derived from `ids`, which every context of one run shares: computed once per run.
const indexCache = new WeakMap<ReadonlyArray<string>, ReadonlyMap<string, number>>()
export const indexOf = (ctx: Pick<RolloutContext, "ids">): ReadonlyMap<string, number> => {
  let index = indexCache.get(ctx.ids)
  if (index === undefined) {
    // Filled in a loop: building it from [id, i] pairs made 100,000 short-lived arrays at once.
    const built = new Map<string, number>()
    for (let i = 0; i < ctx.ids.length; i++) built.set(ctx.ids[i]!, i)
    index = built
    indexCache.set(ctx.ids, index)
  }
  return index
}

// Each wave's targets as indices into `ids`, computed once per run (the waves are the input's).
const waveIndexCache = new WeakMap<ReadonlyArray<string>, Int32Array>()
export const waveIndices = (ctx: Pick<RolloutContext, "ids">, targets: ReadonlyArray<string>): Int32Array => {
  let indices = waveIndexCache.get(targets)
  if (indices === undefined) {
    const index = indexOf(ctx)
    indices = Int32Array.from(targets, (id) => index.get(id)!)
    waveIndexCache.set(targets, indices)
  }
  return indices
}

export const initialContext = (input: MachineInput): RolloutContext => {
  const ids = targetIdsOf(input)
  const rollbackMode = input.mode === "rollback"
  const index = indexOf({ ids })
  const rollbackTargets = rollbackMode ? (input.rollbackTargets ?? []) : []
  const status = StatusVector.empty(ids.length).update(
    rollbackTargets.map((id) => index.get(id)!),
    (flags) => flags | Flag.touched
  )
  return {
    mode: input.mode ?? "rollout",
    waves: input.waves,
    ids,
    rollback: input.rollback,
    progressDeadlineMs: input.progressDeadlineMs,
    rollbackConcurrency: Math.max(1, input.rollbackConcurrency),
    // Finite on purpose: the context is stored as JSON, where Infinity would turn into null.
    maxInFlight: input.maxInFlight ?? Number.MAX_SAFE_INTEGER,
    waveIndex: 0,
    cursor: 0,
    pending: 0,
    status,
    inFlight: 0,
    updated: 0,
    touched: new Set(rollbackTargets).size,
    rollbackOrder: [],
    rollbackCursor: 0,
    rollbackInFlight: 0,
    rolledBack: 0,
    rollbackFailed: 0,
    ...(input.failureBudget === undefined ? {} : { failureBudget: input.failureBudget }),
    failuresByGroup: {},
    repairing: 0,
    userPaused: false,
    approved: false,
    promotedFully: false,
    aborting: false,
    timerSeq: 0
  }
}

export const currentWave = (ctx: RolloutContext) => ctx.waves[ctx.waveIndex]

/** How many of the current wave's targets may be in flight at once. */
export const waveSlots = (ctx: RolloutContext): number => {
  const wave = currentWave(ctx)
  if (wave === undefined) return 0
  return Math.max(1, Math.min(wave.maxUnavailable + wave.maxSurge, ctx.maxInFlight))
}

/**
 * Dispatches as many pending targets as the wave's budget allows (none while paused by the
 * operator), in the wave's order, skipping targets an earlier wave already updated. Each target
 * of a wave is looked at once, so a whole wave costs O(its size).
 */
export const dispatchUpdates = (ctx: RolloutContext): Step => {
  if (ctx.userPaused) return none
  const wave = currentWave(ctx)
  let free = waveSlots(ctx) - ctx.inFlight
  if (wave === undefined || free <= 0 || ctx.pending === 0) return none
  const indices = waveIndices(ctx, wave.targets)
  const starting: number[] = []
  const picked = new Set<number>()
  let cursor = ctx.cursor
  while (free > 0 && cursor < indices.length) {
    const i = indices[cursor]!
    cursor++
    if (ctx.status.has(i, Flag.updated | Flag.inFlight) || picked.has(i)) continue
    picked.add(i)
    starting.push(i)
    free--
  }
  let newlyTouched = 0
  const status = ctx.status.update(starting, (flags) => {
    if ((flags & Flag.touched) === 0) newlyTouched++
    return flags | Flag.touched | Flag.inFlight
  })
  return {
    patch: {
      cursor,
      pending: ctx.pending - starting.length,
      status,
      inFlight: ctx.inFlight + starting.length,
      touched: ctx.touched + newlyTouched
    },
    commands:
      starting.length === 0
        ? []
        : [{ kind: "updateTargets", wave: ctx.waveIndex, targetIds: starting.map((i) => ctx.ids[i]!) }]
  }
}

export const beginWave = (ctx: RolloutContext): Step => {
  const wave = currentWave(ctx)
  if (wave === undefined) return none
  // Distinct targets, so a target listed twice in a wave cannot hold the wave open.
  const counted = new Uint8Array(ctx.ids.length)
  let pending = 0
  for (const i of waveIndices(ctx, wave.targets)) {
    if (counted[i] === 1 || ctx.status.has(i, Flag.updated)) continue
    counted[i] = 1
    pending++
  }
  const started: RolloutContext = { ...ctx, cursor: 0, pending }
  // Paused by the operator before the wave began: the deadline starts when they resume.
  const deadline = ctx.userPaused ? none : startDeadline(started)
  const dispatched = dispatchUpdates({ ...started, ...deadline.patch })
  return {
    patch: { cursor: 0, pending, ...deadline.patch, ...dispatched.patch },
    commands: [
      { kind: "notify", note: { kind: "waveStarted", wave: ctx.waveIndex, targets: wave.targets.length } },
      ...deadline.commands,
      ...dispatched.commands
    ]
  }
}

/** A wave is active while it has targets to dispatch or in flight. */
export const waveActive = (ctx: RolloutContext) => ctx.pending > 0 || ctx.inFlight > 0

/** The progress deadline measures progress, so it runs only while the wave is allowed to progress. */
export const startDeadline = (ctx: RolloutContext): Step => {
  const timerId = `deadline-${ctx.waveIndex}-${ctx.timerSeq}`
  return {
    patch: { deadlineTimer: timerId, timerSeq: ctx.timerSeq + 1 },
    commands: [{ kind: "startTimer", timerId, ms: ctx.progressDeadlineMs, purpose: "deadline" }]
  }
}

/** Operator pause: stop dispatching and stop the deadline clock. */
export const pauseWave = (ctx: RolloutContext): Step => {
  const cancel = cancelDeadline(ctx)
  return {
    patch: { userPaused: true, ...cancel.patch },
    commands: [
      ...cancel.commands,
      { kind: "notify", note: { kind: "paused", wave: ctx.waveIndex, reason: "operator" } }
    ]
  }
}

/** Operator resume: dispatch again and, mid-wave, give the wave a fresh progress deadline. */
export const resumeWave = (ctx: RolloutContext): Step => {
  const resumed: RolloutContext = { ...ctx, userPaused: false }
  const deadline = waveActive(resumed) && resumed.deadlineTimer === undefined ? startDeadline(resumed) : none
  const withDeadline: RolloutContext = { ...resumed, ...deadline.patch }
  const dispatched = dispatchUpdates(withDeadline)
  return {
    patch: { userPaused: false, ...deadline.patch, ...dispatched.patch },
    commands: [
      { kind: "notify", note: { kind: "resumed", wave: ctx.waveIndex } },
      ...deadline.commands,
      ...dispatched.commands
    ]
  }
}

/** Indices of the given targets that the machine knows (unknown ids are ignored). */
const known = (ctx: RolloutContext, targetIds: ReadonlyArray<string>): number[] => {
  const index = indexOf(ctx)
  const out: number[] = []
  for (const id of targetIds) {
    const i = index.get(id)
    if (i !== undefined) out.push(i)
  }
  return out
}

export const isInFlight = (ctx: RolloutContext, targetId: string): boolean => {
  const i = indexOf(ctx).get(targetId)
  return i !== undefined && ctx.status.has(i, Flag.inFlight)
}

/** Targets reported healthy: those in flight become updated and free their slots. */
export const targetsHealthy = (ctx: RolloutContext, targetIds: ReadonlyArray<string>): Step => {
  let settled = 0
  const status = ctx.status.update(known(ctx, targetIds), (flags) => {
    if ((flags & Flag.inFlight) === 0 || (flags & Flag.failedWithinBudget) !== 0) return flags
    settled++
    return (flags & ~Flag.inFlight) | Flag.updated
  })
  if (settled === 0) return none
  const next: RolloutContext = {
    ...ctx,
    status,
    inFlight: ctx.inFlight - settled,
    updated: ctx.updated + settled
  }
  const dispatched = dispatchUpdates(next)
  return {
    patch: { status, inFlight: next.inFlight, updated: next.updated, ...dispatched.patch },
    commands: dispatched.commands
  }
}

export const waveComplete = (ctx: RolloutContext): boolean => ctx.pending === 0 && ctx.inFlight === 0

export const cancelDeadline = (ctx: RolloutContext): Step =>
  ctx.deadlineTimer === undefined
    ? none
    : { patch: { deadlineTimer: undefined }, commands: [{ kind: "cancelTimer", timerId: ctx.deadlineTimer }] }

export const fail = (failure: Failure): Step => ({ patch: { failure }, commands: [] })

/**
 * Indices of touched targets in the order their updates were first dispatched: rollback targets
 * (rollback mode), then each wave's targets up to where dispatch got. O(n): for rollback starts
 * and results, never per event.
 */
export const dispatchOrder = (ctx: RolloutContext): number[] => {
  const seen = new Uint8Array(ctx.ids.length)
  const order: number[] = []
  const visit = (i: number) => {
    if (seen[i] === 1 || !ctx.status.has(i, Flag.touched)) return
    seen[i] = 1
    order.push(i)
  }
  if (ctx.mode === "rollback") for (let i = 0; i < ctx.ids.length; i++) visit(i)
  const last = Math.min(ctx.waveIndex, ctx.waves.length - 1)
  for (let w = 0; w <= last; w++) {
    const indices = waveIndices(ctx, ctx.waves[w]!.targets)
    const end = w < ctx.waveIndex ? indices.length : ctx.cursor
    for (let k = 0; k < end; k++) visit(indices[k]!)
  }
  return order
}

/**
 * Rolls back every touched target within the rollback concurrency: first those still in flight
 * (possibly down right now), then the rest newest first. In-flight targets never outnumber the
 * budget, so the rollback's own downtime plus theirs stays within it.
 */
export const beginRollback = (ctx: RolloutContext, reason: string): Step => {
  // Targets that failed within the budget and are already back on their previous revision are
  // not rolled back again (nor counted twice).
  const touched = dispatchOrder(ctx)
    .reverse()
    .filter((i) => !ctx.status.has(i, Flag.rolledBack))
  const unsettled = touched.filter((i) => ctx.status.has(i, Flag.inFlight))
  const order = [...unsettled, ...touched.filter((i) => !ctx.status.has(i, Flag.inFlight))]
  // A target failed within the budget whose own rollback is still running is rolled back again
  // with the rest: its first rollback's answer, whichever comes first, settles it once.
  const status = ctx.status.update(unsettled, (flags) => flags & ~(Flag.inFlight | Flag.rollbackInFlight))
  const started: RolloutContext = {
    ...ctx,
    status,
    repairing: 0,
    rollbackOrder: order,
    rollbackCursor: 0,
    rollbackInFlight: 0,
    pending: 0,
    inFlight: 0
  }
  const dispatched = dispatchRollbacks(started)
  const timers: Command[] = []
  if (ctx.deadlineTimer !== undefined) timers.push({ kind: "cancelTimer", timerId: ctx.deadlineTimer })
  if (ctx.pauseTimer !== undefined) timers.push({ kind: "cancelTimer", timerId: ctx.pauseTimer })
  return {
    patch: {
      status,
      rollbackOrder: order,
      rollbackCursor: 0,
      rollbackInFlight: 0,
      pending: 0,
      inFlight: 0,
      repairing: 0,
      deadlineTimer: undefined,
      pauseTimer: undefined,
      ...dispatched.patch
    },
    commands: [
      { kind: "cancelUpdates" },
      ...timers,
      { kind: "notify", note: { kind: "rollbackStarted", reason, targets: order.length } },
      ...dispatched.commands
    ]
  }
}

export const rollbackPending = (ctx: RolloutContext) => ctx.rollbackOrder.length - ctx.rollbackCursor

export const dispatchRollbacks = (ctx: RolloutContext): Step => {
  const free = ctx.rollbackConcurrency - ctx.rollbackInFlight
  if (free <= 0 || rollbackPending(ctx) === 0) return none
  const starting = ctx.rollbackOrder.slice(ctx.rollbackCursor, ctx.rollbackCursor + free)
  const status = ctx.status.update(starting, (flags) => flags | Flag.rollbackInFlight)
  return {
    patch: {
      status,
      rollbackCursor: ctx.rollbackCursor + starting.length,
      rollbackInFlight: ctx.rollbackInFlight + starting.length
    },
    commands: [{ kind: "rollbackTargets", targetIds: starting.map((i) => ctx.ids[i]!) }]
  }
}

/** Rollbacks that ended (ok or not): their slots go to the next targets in the rollback order. */
export const rollbacksSettled = (ctx: RolloutContext, targetIds: ReadonlyArray<string>, ok: boolean): Step => {
  let settled = 0
  const status = ctx.status.update(known(ctx, targetIds), (flags) => {
    if ((flags & Flag.rollbackInFlight) === 0) return flags
    settled++
    return (flags & ~Flag.rollbackInFlight) | (ok ? Flag.rolledBack : Flag.rollbackFailed)
  })
  if (settled === 0) return none
  const next: RolloutContext = {
    ...ctx,
    status,
    rollbackInFlight: ctx.rollbackInFlight - settled,
    rolledBack: ok ? ctx.rolledBack + settled : ctx.rolledBack,
    rollbackFailed: ok ? ctx.rollbackFailed : ctx.rollbackFailed + settled
  }
  const dispatched = dispatchRollbacks(next)
  return {
    patch: {
      status,
      rollbackInFlight: next.rollbackInFlight,
      rolledBack: next.rolledBack,
      rollbackFailed: next.rollbackFailed,
      ...dispatched.patch
    },
    commands: dispatched.commands
  }
}

export const rollbackDone = (ctx: RolloutContext): boolean => rollbackPending(ctx) === 0 && ctx.rollbackInFlight === 0

/** The flags of a target that failed within the budget and whose own rollback is running. */
const REPAIRING = Flag.failedWithinBudget | Flag.rollbackInFlight

/** The group a target's failures count against (the whole rollout without a group key). */
const groupOf = (ctx: RolloutContext, targetId: string): string => ctx.failureBudget?.groupOf?.[targetId] ?? ""

/** Whether a failure of this in-flight target fits in its group's failure budget. */
export const withinFailureBudget = (ctx: RolloutContext, targetId: string): boolean => {
  const budget = ctx.failureBudget?.perGroup ?? 0
  if (budget <= 0) return false
  const i = indexOf(ctx).get(targetId)
  if (i === undefined || !ctx.status.has(i, Flag.inFlight) || ctx.status.has(i, Flag.failedWithinBudget)) return false
  return (ctx.failuresByGroup[groupOf(ctx, targetId)] ?? 0) < budget
}

/**
 * A failure within the budget: the target is rolled back on its own and keeps its slot (it is
 * down until restored), so the wave ends only when its rollback has settled.
 */
export const tolerateFailure = (ctx: RolloutContext, targetId: string): Step => {
  const i = indexOf(ctx).get(targetId)!
  const group = groupOf(ctx, targetId)
  const status = ctx.status.update([i], (flags) => flags | Flag.failedWithinBudget | Flag.rollbackInFlight)
  return {
    patch: {
      status,
      failuresByGroup: { ...ctx.failuresByGroup, [group]: (ctx.failuresByGroup[group] ?? 0) + 1 },
      repairing: ctx.repairing + 1
    },
    commands: [{ kind: "rollbackTargets", targetIds: [targetId] }]
  }
}

/** Repairs (rollbacks of failures within the budget) that ended: restored ones free their slots. */
export const repairsSettled = (ctx: RolloutContext, targetIds: ReadonlyArray<string>, ok: boolean): Step => {
  let settled = 0
  const status = ctx.status.update(known(ctx, targetIds), (flags) => {
    if ((flags & REPAIRING) !== REPAIRING) return flags
    settled++
    return ok ? (flags & ~(Flag.rollbackInFlight | Flag.inFlight)) | Flag.rolledBack : flags
  })
  if (settled === 0 || !ok) return none
  const next: RolloutContext = { ...ctx, status, inFlight: ctx.inFlight - settled, repairing: ctx.repairing - settled }
  const dispatched = dispatchUpdates(next)
  return {
    patch: { status, inFlight: next.inFlight, repairing: next.repairing, ...dispatched.patch },
    commands: dispatched.commands
  }
}

/** Whether any of these targets is a repair still in flight (its rollback failed: the rollout fails). */
export const isRepairing = (ctx: RolloutContext, targetIds: ReadonlyArray<string>): boolean => {
  return known(ctx, targetIds).some((i) => (ctx.status.get(i) & REPAIRING) === REPAIRING)
}
