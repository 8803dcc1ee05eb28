import { Flag, StatusVector } from "./status.js"
import { dispatchOrder, indexOf, rollbackPending, targetIdsOf } from "./steps.js"
import type { MachineInput, RolloutContext } from "./types.js"

/** Which targets are where, as lists: O(n), for results, `status` and the progress views. */
export interface RolloutProgress {
  /** Every target an update was dispatched for, in dispatch order. */
  readonly touched: ReadonlyArray<string>
  readonly updated: ReadonlyArray<string>
  readonly inFlight: ReadonlyArray<string>
  readonly rollbackPending: ReadonlyArray<string>
  readonly rollbackInFlight: ReadonlyArray<string>
  readonly rolledBack: ReadonlyArray<string>
  readonly rollbackFailed: ReadonlyArray<string>
  /** Failed within the failure budget, each rolled back on its own while the rollout went on. */
  readonly failedWithinBudget: ReadonlyArray<string>
}

export const progressOf = (ctx: RolloutContext): RolloutProgress => {
  const order = dispatchOrder(ctx)
  const rollbackOrder = ctx.rollbackOrder
  const settled = Math.min(ctx.rollbackCursor, rollbackOrder.length)
  return {
    touched: idsAt(ctx, order, 0, order.length),
    updated: idsAt(ctx, order, 0, order.length, Flag.updated),
    inFlight: idsAt(ctx, order, 0, order.length, Flag.inFlight),
    rollbackPending: idsAt(ctx, rollbackOrder, settled, rollbackOrder.length),
    rollbackInFlight: idsAt(ctx, rollbackOrder, 0, settled, Flag.rollbackInFlight),
    rolledBack: idsAt(ctx, rollbackOrder, 0, settled, Flag.rolledBack),
    rollbackFailed: idsAt(ctx, rollbackOrder, 0, settled, Flag.rollbackFailed),
    failedWithinBudget: idsAt(ctx, order, 0, order.length, Flag.failedWithinBudget)
  }
}

/** Every target an update was dispatched for, in dispatch order (`progressOf(ctx).touched`). */
export const touchedOf = (ctx: RolloutContext): ReadonlyArray<string> => {
  const order = dispatchOrder(ctx)
  return idsAt(ctx, order, 0, order.length)
}

/**
 * The ids of `indices[from..to)` (those with `flag`, when given), counted first and written into
 * an array of that size: a rollout's results are taken when the heap is fullest, and an array
 * pushed to 100,000 ids leaves twice its size of outgrown copies in the old generation. Index
 * loops, not for-of over slices, which build an iterator result per target.
 */
const idsAt = (
  ctx: RolloutContext,
  indices: ReadonlyArray<number>,
  from: number,
  to: number,
  flag?: number
): string[] => {
  let n = 0
  if (flag === undefined) n = Math.max(0, to - from)
  else for (let k = from; k < to; k++) if (ctx.status.has(indices[k]!, flag)) n++
  const out = new Array<string>(n)
  let at = 0
  for (let k = from; k < to; k++) {
    const i = indices[k]!
    if (flag === undefined || ctx.status.has(i, flag)) out[at++] = ctx.ids[i]!
  }
  return out
}

/** Counts only: O(1). */
export const countsOf = (ctx: RolloutContext) => ({
  touched: ctx.touched,
  updated: ctx.updated,
  inFlight: ctx.inFlight,
  rollbackPending: rollbackPending(ctx),
  rollbackInFlight: ctx.rollbackInFlight,
  rolledBack: ctx.rolledBack,
  rollbackFailed: ctx.rollbackFailed
})

/** The machine's flags for one target, or undefined when the machine does not know it. */
export const targetFlags = (ctx: RolloutContext, targetId: string): number | undefined => {
  const i = indexOf(ctx).get(targetId)
  return i === undefined ? undefined : ctx.status.get(i)
}

const FORMAT = 2

/**
 * The context as stored in a journal snapshot: what the input does not already say. The waves and
 * target ids come back from the input on restore; the status vector is base64.
 */
export const persistContext = (ctx: RolloutContext): Record<string, unknown> => {
  const { waves: _waves, ids: _ids, failureBudget: _budget, status, ...rest } = ctx
  return { format: FORMAT, ...rest, status: status.encode() }
}

/**
 * The context from a snapshot written by {@link persistContext}; undefined for a snapshot in an
 * older format (the caller then replays the whole journal instead).
 */
export const restoreContext = (input: MachineInput, persisted: unknown): RolloutContext | undefined => {
  if (typeof persisted !== "object" || persisted === null) return undefined
  const p = persisted as Record<string, unknown>
  if (p.format !== FORMAT || typeof p.status !== "string") return undefined
  const ids = targetIdsOf(input)
  const { format: _format, status, ...rest } = p
  return {
    ...(rest as unknown as Omit<RolloutContext, "waves" | "ids" | "status">),
    waves: input.waves,
    ids,
    ...(input.failureBudget === undefined ? {} : { failureBudget: input.failureBudget }),
    // Snapshots written before the failure budget existed.
    failuresByGroup: (rest.failuresByGroup as Record<string, number> | undefined) ?? {},
    repairing: (rest.repairing as number | undefined) ?? 0,
    status: StatusVector.decode(ids.length, status as string)
  }
}
