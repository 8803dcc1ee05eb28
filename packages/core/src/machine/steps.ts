import type { Command, Failure, MachineInput, RolloutContext } from "./types.js"

/** A pure step: the context patch and the commands it asks for. */
export interface Step {
  readonly patch: Partial<RolloutContext>
  readonly commands: ReadonlyArray<Command>
}

const none: Step = { patch: {}, commands: [] }

export const initialContext = (input: MachineInput): RolloutContext => ({
  mode: input.mode ?? "rollout",
  waves: input.waves,
  rollback: input.rollback,
  progressDeadlineMs: input.progressDeadlineMs,
  rollbackConcurrency: Math.max(1, input.rollbackConcurrency),
  // Finite on purpose: the context is stored as JSON, where Infinity would turn into null.
  maxInFlight: input.maxInFlight ?? Number.MAX_SAFE_INTEGER,
  waveIndex: 0,
  pending: [],
  inFlight: [],
  updated: [],
  touched: input.mode === "rollback" ? [...(input.rollbackTargets ?? [])] : [],
  rollbackPending: [],
  rollbackInFlight: [],
  rolledBack: [],
  rollbackFailed: [],
  userPaused: false,
  approved: false,
  aborting: false,
  timerSeq: 0
})

export const currentWave = (ctx: RolloutContext) => ctx.waves[ctx.waveIndex]

/** How many of the current wave's targets may be in flight at once. */
export const waveSlots = (ctx: RolloutContext): number => {
  const wave = currentWave(ctx)
  if (wave === undefined) return 0
  return Math.max(1, Math.min(wave.maxUnavailable + wave.maxSurge, ctx.maxInFlight))
}

/** Dispatches as many pending targets as the wave's budget allows (none while paused by the operator). */
export const dispatchUpdates = (ctx: RolloutContext): Step => {
  if (ctx.userPaused) return none
  const free = waveSlots(ctx) - ctx.inFlight.length
  if (free <= 0 || ctx.pending.length === 0) return none
  const starting = ctx.pending.slice(0, free)
  return {
    patch: {
      pending: ctx.pending.slice(starting.length),
      inFlight: [...ctx.inFlight, ...starting],
      touched: [...ctx.touched, ...starting.filter((id) => !ctx.touched.includes(id))]
    },
    commands: starting.map((targetId) => ({ kind: "updateTarget", wave: ctx.waveIndex, targetId }))
  }
}

export const beginWave = (ctx: RolloutContext): Step => {
  const wave = currentWave(ctx)
  if (wave === undefined) return none
  const started: RolloutContext = {
    ...ctx,
    pending: wave.targets.filter((id) => !ctx.updated.includes(id)),
    inFlight: []
  }
  // Paused by the operator before the wave began: the deadline starts when they resume.
  const deadline = ctx.userPaused ? none : startDeadline(started)
  const dispatched = dispatchUpdates(started)
  return {
    patch: {
      pending: started.pending,
      inFlight: started.inFlight,
      ...deadline.patch,
      ...dispatched.patch
    },
    commands: [
      { kind: "notify", note: { kind: "waveStarted", wave: ctx.waveIndex, targets: wave.targets.length } },
      ...deadline.commands,
      ...dispatched.commands
    ]
  }
}

/** A wave is active while it has targets to dispatch or in flight. */
export const waveActive = (ctx: RolloutContext) => ctx.pending.length > 0 || ctx.inFlight.length > 0

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

export const targetHealthy = (ctx: RolloutContext, targetId: string): Step => {
  if (!ctx.inFlight.includes(targetId)) return none
  const next: RolloutContext = {
    ...ctx,
    inFlight: ctx.inFlight.filter((id) => id !== targetId),
    updated: [...ctx.updated, targetId]
  }
  const dispatched = dispatchUpdates(next)
  return {
    patch: { inFlight: next.inFlight, updated: next.updated, ...dispatched.patch },
    commands: dispatched.commands
  }
}

export const waveComplete = (ctx: RolloutContext): boolean => ctx.pending.length === 0 && ctx.inFlight.length === 0

export const cancelDeadline = (ctx: RolloutContext): Step =>
  ctx.deadlineTimer === undefined
    ? none
    : { patch: { deadlineTimer: undefined }, commands: [{ kind: "cancelTimer", timerId: ctx.deadlineTimer }] }

export const fail = (failure: Failure): Step => ({ patch: { failure }, commands: [] })

/**
 * Rolls back every touched target within the rollback concurrency: first those still in flight
 * (possibly down right now), then the rest newest first. In-flight targets never outnumber the
 * budget, so the rollback's own downtime plus theirs stays within it.
 */
export const beginRollback = (ctx: RolloutContext, reason: string): Step => {
  const unsettled = [...ctx.inFlight].reverse()
  const order = [...unsettled, ...[...ctx.touched].reverse().filter((id) => !ctx.inFlight.includes(id))]
  const started: RolloutContext = {
    ...ctx,
    rollbackPending: order,
    rollbackInFlight: [],
    pending: [],
    inFlight: []
  }
  const dispatched = dispatchRollbacks(started)
  const timers: Command[] = []
  if (ctx.deadlineTimer !== undefined) timers.push({ kind: "cancelTimer", timerId: ctx.deadlineTimer })
  if (ctx.pauseTimer !== undefined) timers.push({ kind: "cancelTimer", timerId: ctx.pauseTimer })
  return {
    patch: {
      rollbackPending: started.rollbackPending,
      rollbackInFlight: started.rollbackInFlight,
      pending: [],
      inFlight: [],
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

export const dispatchRollbacks = (ctx: RolloutContext): Step => {
  const free = ctx.rollbackConcurrency - ctx.rollbackInFlight.length
  if (free <= 0 || ctx.rollbackPending.length === 0) return none
  const starting = ctx.rollbackPending.slice(0, free)
  return {
    patch: {
      rollbackPending: ctx.rollbackPending.slice(starting.length),
      rollbackInFlight: [...ctx.rollbackInFlight, ...starting]
    },
    commands: starting.map((targetId) => ({ kind: "rollbackTarget", targetId }))
  }
}

export const rollbackSettled = (ctx: RolloutContext, targetId: string, ok: boolean): Step => {
  if (!ctx.rollbackInFlight.includes(targetId)) return none
  const next: RolloutContext = {
    ...ctx,
    rollbackInFlight: ctx.rollbackInFlight.filter((id) => id !== targetId),
    rolledBack: ok ? [...ctx.rolledBack, targetId] : ctx.rolledBack,
    rollbackFailed: ok ? ctx.rollbackFailed : [...ctx.rollbackFailed, targetId]
  }
  const dispatched = dispatchRollbacks(next)
  return {
    patch: {
      rollbackInFlight: next.rollbackInFlight,
      rolledBack: next.rolledBack,
      rollbackFailed: next.rollbackFailed,
      ...dispatched.patch
    },
    commands: dispatched.commands
  }
}

export const rollbackDone = (ctx: RolloutContext): boolean =>
  ctx.rollbackPending.length === 0 && ctx.rollbackInFlight.length === 0
