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
  // Index loops over a range, not for-of over slices: at 100,000 targets a rollout's result
  // (taken when the heap is fullest) would otherwise build an iterator result per target per list.
  const ids = (indices: ReadonlyArray<number>, from: number, to: number, flag?: number) => {
    const out: string[] = []
    for (let k = from; k < to; k++) {
      const i = indices[k]!
      if (flag === undefined || ctx.status.has(i, flag)) out.push(ctx.ids[i]!)
    }
    return out
  }
  return {
    touched: ids(order, 0, order.length),
    updated: ids(order, 0, order.length, Flag.updated),
    inFlight: ids(order, 0, order.length, Flag.inFlight),
    rollbackPending: ids(rollbackOrder, settled, rollbackOrder.length),
    rollbackInFlight: ids(rollbackOrder, 0, settled, Flag.rollbackInFlight),
    rolledBack: ids(rollbackOrder, 0, settled, Flag.rolledBack),
    rollbackFailed: ids(rollbackOrder, 0, settled, Flag.rollbackFailed),
    failedWithinBudget: ids(order, 0, order.length, Flag.failedWithinBudget)
  }
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
