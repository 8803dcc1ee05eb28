import type { WavePause } from "../plan/Plan.js"

/** The slice of a plan wave the machine needs; plain data so snapshots serialize as JSON. */
export interface MachineWave {
  readonly index: number
  readonly targets: ReadonlyArray<string>
  readonly maxUnavailable: number
  readonly maxSurge: number
  readonly pauseAfter?: WavePause
  readonly analysis: ReadonlyArray<string>
  readonly approvalBefore: boolean
}

export interface MachineInput {
  readonly waves: ReadonlyArray<MachineWave>
  readonly rollback: { readonly onFailure: boolean; readonly onAbort: boolean }
  readonly progressDeadlineMs: number
  /** How many rollbacks may run at once. */
  readonly rollbackConcurrency: number
  /** Global cap on targets in flight, whatever the wave allows. */
  readonly maxInFlight?: number
  /**
   * `rollout` runs the plan; `rollback` starts straight in rolling back the given targets (the
   * CLI's manual `sluice rollback` of a finished rollout).
   */
  readonly mode?: "rollout" | "rollback"
  readonly rollbackTargets?: ReadonlyArray<string>
}

export type Outcome = "completed" | "blocked" | "failed" | "rolledBack" | "aborted" | "rollbackFailed"

export interface Failure {
  readonly reason: string
  readonly target?: string
  readonly wave?: number
}

export interface RolloutContext {
  readonly mode: "rollout" | "rollback"
  readonly waves: ReadonlyArray<MachineWave>
  readonly rollback: { readonly onFailure: boolean; readonly onAbort: boolean }
  readonly progressDeadlineMs: number
  readonly rollbackConcurrency: number
  readonly maxInFlight: number
  readonly waveIndex: number
  /** This wave's targets not dispatched yet. */
  readonly pending: ReadonlyArray<string>
  /** Dispatched and not yet healthy: these count as unavailable. */
  readonly inFlight: ReadonlyArray<string>
  /** Healthy on the new version, all waves so far. */
  readonly updated: ReadonlyArray<string>
  /** Every target an update was dispatched for, in dispatch order (write-ahead: before the adapter acts). */
  readonly touched: ReadonlyArray<string>
  readonly rollbackPending: ReadonlyArray<string>
  readonly rollbackInFlight: ReadonlyArray<string>
  readonly rolledBack: ReadonlyArray<string>
  readonly rollbackFailed: ReadonlyArray<string>
  readonly userPaused: boolean
  readonly approved: boolean
  readonly aborting: boolean
  readonly failure?: Failure | undefined
  /** Monotone counter so every timer id is unique across the run. */
  readonly timerSeq: number
  readonly deadlineTimer?: string | undefined
  readonly pauseTimer?: string | undefined
}

/** A gate violation on one target (journaled with the denial so `status` can list it later). */
export interface DeniedTarget {
  readonly targetId: string
  readonly rule: string
  readonly message: string
  readonly container?: string
}

/** Events: adapter outcomes, gate results, timers, and operator controls. */
export type MachineEvent =
  | { readonly type: "VALIDATED" }
  | { readonly type: "INVALID"; readonly reason: string }
  | { readonly type: "GATES_PASSED" }
  | { readonly type: "GATES_DENIED"; readonly reason: string; readonly violations?: ReadonlyArray<DeniedTarget> }
  | { readonly type: "WAVE_CHECKED"; readonly wave: number }
  | {
      readonly type: "WAVE_DENIED"
      readonly wave: number
      readonly reason: string
      readonly violations?: ReadonlyArray<DeniedTarget>
    }
  | { readonly type: "TARGET_APPLIED"; readonly targetId: string }
  | { readonly type: "TARGET_HEALTHY"; readonly targetId: string }
  | { readonly type: "TARGET_FAILED"; readonly targetId: string; readonly reason: string }
  | { readonly type: "TIMER_FIRED"; readonly timerId: string }
  | { readonly type: "ANALYSIS_PASSED"; readonly wave: number }
  | { readonly type: "ANALYSIS_FAILED"; readonly wave: number; readonly reason: string }
  | { readonly type: "TARGET_ROLLED_BACK"; readonly targetId: string }
  | { readonly type: "TARGET_ROLLBACK_FAILED"; readonly targetId: string; readonly reason: string }
  | { readonly type: "FINALIZED" }
  | { readonly type: "PAUSE"; readonly controlId?: string }
  | { readonly type: "RESUME"; readonly controlId?: string }
  | { readonly type: "APPROVE"; readonly controlId?: string }
  | { readonly type: "PROMOTE"; readonly controlId?: string }
  | { readonly type: "ABORT"; readonly reason?: string; readonly controlId?: string }

/**
 * What the machine asks the interpreter to do. The machine never does it itself: `transition()`
 * returns these as action params and the interpreter runs them.
 */
export type Command =
  | { readonly kind: "validate" }
  | { readonly kind: "evaluateGates" }
  | { readonly kind: "checkWave"; readonly wave: number }
  | { readonly kind: "updateTarget"; readonly wave: number; readonly targetId: string }
  | { readonly kind: "cancelUpdates" }
  | {
      readonly kind: "startTimer"
      readonly timerId: string
      readonly ms: number
      readonly purpose: "deadline" | "pause"
    }
  | { readonly kind: "cancelTimer"; readonly timerId: string }
  | { readonly kind: "runAnalysis"; readonly wave: number; readonly analysis: ReadonlyArray<string> }
  | { readonly kind: "rollbackTarget"; readonly targetId: string }
  | { readonly kind: "finalize" }
  | { readonly kind: "notify"; readonly note: Note }

/** Progress facts for the event stream that only the machine knows (wave boundaries, outcomes). */
export type Note =
  | { readonly kind: "waveStarted"; readonly wave: number; readonly targets: number }
  | { readonly kind: "waveHealthy"; readonly wave: number }
  | { readonly kind: "awaitingApproval"; readonly wave: number }
  | { readonly kind: "paused"; readonly wave: number; readonly reason: "operator" | "step" }
  | { readonly kind: "resumed"; readonly wave: number }
  | { readonly kind: "rollbackStarted"; readonly reason: string; readonly targets: number }
  | { readonly kind: "finished"; readonly outcome: Outcome; readonly reason?: string }
