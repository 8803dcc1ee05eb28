import {
  inspectRollout,
  type RolloutContext,
  type RolloutHeader,
  type RolloutResult,
  type RolloutStoreShape,
  RolloutStore,
  type StoreError
} from "@sluice/core"
import { Effect } from "effect"
import { replacedImages } from "./render/text.js"

type Inspected = Effect.Success<ReturnType<typeof inspectRollout>>
type InspectError = Effect.Error<ReturnType<typeof inspectRollout>>

export interface RolloutStatus {
  readonly rolloutId: string
  readonly mode: "rollout" | "rollback"
  readonly image: string
  /** The images it replaces, with how many of its targets ran each before it, most common first. */
  readonly replaces: ReadonlyArray<{ readonly image: string; readonly targets: number }>
  readonly adapter: string
  readonly createdAt: string
  /** The machine state, e.g. `progressing.applying`, `rolledBack`. */
  readonly state: string
  /** Human words for it: `updating wave 2 (3/7)`, `paused by an operator`, … */
  readonly phase: string
  readonly finished: boolean
  readonly outcome?: RolloutResult["outcome"]
  readonly reason?: string
  /** A live process owns (runs) it. */
  readonly running: boolean
  readonly owner?: string
  readonly paused: boolean
  readonly awaitingApproval: boolean
  /** `index` counts from 0, as the plan table, the spec and the events do; `total` is the number of waves. */
  readonly wave: { readonly index: number; readonly total: number; readonly kind?: string }
  readonly counts: {
    readonly planned: number
    readonly upToDate: number
    readonly touched: number
    readonly updated: number
    readonly inFlight: number
    readonly rolledBack: number
    readonly rollbackFailed: number
  }
  readonly pendingControls: ReadonlyArray<string>
  readonly violations: RolloutResult["violations"]
}

export const stateName = (value: unknown): string =>
  typeof value === "string"
    ? value
    : Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}.${stateName(v)}`)
        .join(",")

const phaseOf = (state: string, ctx: RolloutContext, header: RolloutHeader, running: boolean) => {
  const total = header.plan.waves.length
  const index = Math.max(0, Math.min(ctx.waveIndex, total - 1))
  const wave = total === 0 ? "no wave" : `wave ${index} (${index + 1}/${total})`
  const sub = state.startsWith("progressing.") ? state.slice("progressing.".length) : state
  const base = (() => {
    switch (sub) {
      case "starting":
      case "validating":
      case "gating":
        return "checking gates"
      case "waveStart":
      case "checking":
        return `checking ${wave}`
      case "applying":
        return ctx.userPaused ? `paused by an operator in ${wave}` : `updating ${wave}`
      case "analysing":
        return `analysing ${wave}`
      case "held":
        return `paused by an operator before ${wave}`
      case "awaitingApproval":
        return `waiting for approval of ${wave}`
      case "pausedTimed":
        return `timed pause after ${wave}`
      case "pausedUntilResumed":
        return `paused after ${wave} until resumed`
      case "afterWave":
      case "nextWave":
        return `finishing ${wave}`
      case "failing":
      case "rollingBack":
        return `rolling back (${ctx.rolledBack + ctx.rollbackFailed}/${ctx.rolledBack + ctx.rollbackFailed + ctx.rollbackInFlight + (ctx.rollbackOrder.length - ctx.rollbackCursor)})`
      case "finalizing":
        return "finishing"
      default:
        return sub
    }
  })()
  return running ? base : `${base} — not running`
}

export const statusOf = (
  inspected: Inspected,
  owner: string | undefined,
  pending: ReadonlyArray<string>
): RolloutStatus => {
  const { header, snapshot, result } = inspected
  const ctx = snapshot.context
  const state = stateName(snapshot.value)
  const finished = result !== undefined
  const running = owner !== undefined && !finished
  const planned = header.plan.waves.reduce((n, w) => n + w.targets.length, 0)
  const total = header.plan.waves.length
  const index = Math.min(ctx.waveIndex, Math.max(0, total - 1))
  return {
    rolloutId: header.rolloutId,
    mode: header.machineInput.mode ?? "rollout",
    image: header.image,
    replaces: replacedImages(
      Object.values(header.previous).map((r) => r.image),
      header.image
    ),
    adapter: header.adapter,
    createdAt: new Date(header.createdAt).toISOString(),
    state,
    phase: finished ? result.outcome : phaseOf(state, ctx, header, running),
    finished,
    ...(result === undefined ? {} : { outcome: result.outcome }),
    ...(result?.reason !== undefined
      ? { reason: result.reason }
      : ctx.failure === undefined
        ? {}
        : { reason: ctx.failure.reason }),
    running,
    ...(owner === undefined || finished ? {} : { owner }),
    paused: !finished && (ctx.userPaused || state.endsWith("held") || state.endsWith("pausedUntilResumed")),
    awaitingApproval: state.endsWith("awaitingApproval"),
    wave: {
      index,
      total,
      ...(header.plan.waves[index] === undefined ? {} : { kind: header.plan.waves[index]!.kind })
    },
    counts: {
      planned: header.machineInput.mode === "rollback" ? (header.machineInput.rollbackTargets?.length ?? 0) : planned,
      upToDate: header.plan.upToDate.length,
      touched: ctx.touched,
      updated: ctx.updated,
      inFlight: ctx.inFlight,
      rolledBack: ctx.rolledBack,
      rollbackFailed: ctx.rollbackFailed
    },
    pendingControls: pending,
    violations: result?.violations ?? []
  }
}

/** Inspects a rollout and asks the store who runs it. */
export const loadStatus = (
  store: RolloutStoreShape,
  rolloutId: string
): Effect.Effect<{ readonly inspected: Inspected; readonly status: RolloutStatus }, InspectError | StoreError> =>
  Effect.gen(function* () {
    const inspected = yield* inspectRollout(rolloutId)
    const owner = yield* store.owner(rolloutId)
    const pending = yield* store.pendingControls(rolloutId).pipe(Effect.orElseSucceed(() => []))
    return {
      inspected,
      status: statusOf(
        inspected,
        owner,
        pending.map((c) => c.signal)
      )
    }
  }).pipe(Effect.provideService(RolloutStore, store))

/** Every rollout id, newest first (by creation time). */
export const listRollouts = (store: RolloutStoreShape) =>
  Effect.gen(function* () {
    const ids = yield* store.list()
    const headers = yield* Effect.forEach(ids, (id) =>
      store.read(id).pipe(
        Effect.map((s): RolloutHeader | undefined => s.header),
        // One unreadable rollout does not hide the others; it is named (its file and problem).
        Effect.catch((e) =>
          Effect.logWarning(`skipped rollout ${id}: ${e._tag === "StoreError" ? e.message : e._tag}`).pipe(
            Effect.as(undefined)
          )
        )
      )
    )
    return headers
      .filter((h): h is RolloutHeader => h !== undefined)
      .sort((a, b) => b.createdAt - a.createdAt || b.rolloutId.localeCompare(a.rolloutId))
  })
