import type { AnalysisVerdict } from "../analysis/verdict.js"
import type { WavePause } from "../plan/Plan.js"
import type { StatusVector } from "./status.js"
import type { SignatureVerdict } from "../policy/SignatureVerifier.js"

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
  /**
   * The failure budget (`topology.maxFailuresPerGroup`): up to `perGroup` failed targets per group
   * are rolled back on their own while the rollout goes on. `groupOf` names each target's group
   * (absent: the whole rollout is one group).
   */
  readonly failureBudget?: {
    readonly perGroup: number
    readonly groupOf?: Readonly<Record<string, string>>
  }
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
  /**
   * Every target the machine may act on, rollback targets first then the waves' in plan order; a
   * target's position here is its index in {@link RolloutContext.status}. Built once from the
   * input and shared by every later context (never copied).
   */
  readonly ids: ReadonlyArray<string>
  readonly rollback: { readonly onFailure: boolean; readonly onAbort: boolean }
  readonly progressDeadlineMs: number
  readonly rollbackConcurrency: number
  readonly maxInFlight: number
  readonly waveIndex: number
  /** Position in the current wave's target list of the next one to consider for dispatch. */
  readonly cursor: number
  /** This wave's targets not dispatched yet. */
  readonly pending: number
  /** Every target's flags (touched, in flight, updated, rollback states). */
  readonly status: StatusVector
  /** Dispatched and not yet healthy: these count as unavailable. */
  readonly inFlight: number
  /** Healthy on the new version, all waves so far. */
  readonly updated: number
  /** Targets an update was dispatched for (or, in rollback mode, that the rollback restores). */
  readonly touched: number
  /** The order rollbacks run in (indices into `ids`), fixed when the rollback starts. */
  readonly rollbackOrder: ReadonlyArray<number>
  /** Position in `rollbackOrder` of the next rollback to dispatch. */
  readonly rollbackCursor: number
  readonly rollbackInFlight: number
  readonly rolledBack: number
  readonly rollbackFailed: number
  /** The input's failure budget (shared with the input, never stored in a snapshot). */
  readonly failureBudget?: MachineInput["failureBudget"]
  /** Targets that failed within the failure budget (each rolled back on its own), per group. */
  readonly failuresByGroup: Readonly<Record<string, number>>
  /** Failed within the budget and being rolled back on their own (they still count as in flight). */
  readonly repairing: number
  readonly userPaused: boolean
  readonly approved: boolean
  /** `promote --full` was received: no more pauses, approvals or analyses. */
  readonly promotedFully: boolean
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
  /**
   * `signature`: the signature gate's verdict (digest and signer), journaled with the pass so the
   * journal says who vouched for the bytes the rollout deploys; the machine does not read it.
   */
  | { readonly type: "GATES_PASSED"; readonly signature?: SignatureVerdict }
  | { readonly type: "GATES_DENIED"; readonly reason: string; readonly violations?: ReadonlyArray<DeniedTarget> }
  | { readonly type: "WAVE_CHECKED"; readonly wave: number }
  | {
      readonly type: "WAVE_DENIED"
      readonly wave: number
      readonly reason: string
      readonly violations?: ReadonlyArray<DeniedTarget>
    }
  /** Targets that became healthy (outcomes that arrive together travel, and are journaled, as one). */
  | { readonly type: "TARGETS_HEALTHY"; readonly targetIds: ReadonlyArray<string> }
  | { readonly type: "TARGET_FAILED"; readonly targetId: string; readonly reason: string }
  | { readonly type: "TIMER_FIRED"; readonly timerId: string }
  /**
   * `verdicts`: each analysis run's tally and canary judgement, journaled with the outcome so the
   * journal says why a wave passed or was rolled back; the machine does not read them.
   */
  | { readonly type: "ANALYSIS_PASSED"; readonly wave: number; readonly verdicts?: ReadonlyArray<AnalysisVerdict> }
  | {
      readonly type: "ANALYSIS_FAILED"
      readonly wave: number
      readonly reason: string
      readonly verdicts?: ReadonlyArray<AnalysisVerdict>
    }
  | { readonly type: "TARGETS_ROLLED_BACK"; readonly targetIds: ReadonlyArray<string> }
  | {
      readonly type: "TARGETS_ROLLBACK_FAILED"
      readonly failures: ReadonlyArray<{ readonly targetId: string; readonly reason: string }>
    }
  | { readonly type: "FINALIZED" }
  | { readonly type: "PAUSE"; readonly controlId?: string }
  | { readonly type: "RESUME"; readonly controlId?: string }
  | { readonly type: "APPROVE"; readonly controlId?: string }
  /** `full`: also skip every later pause, approval and analysis (`sluice promote --full`). */
  | { readonly type: "PROMOTE"; readonly full?: boolean; readonly controlId?: string }
  | { readonly type: "ABORT"; readonly reason?: string; readonly controlId?: string }

/**
 * What the machine asks the interpreter to do. The machine never does it itself: `transition()`
 * returns these as action params and the interpreter runs them.
 */
export type Command =
  | { readonly kind: "validate" }
  | { readonly kind: "evaluateGates" }
  | { readonly kind: "checkWave"; readonly wave: number }
  /** Update these targets (each is answered on its own: TARGETS_HEALTHY or TARGET_FAILED). */
  | { readonly kind: "updateTargets"; readonly wave: number; readonly targetIds: ReadonlyArray<string> }
  | { readonly kind: "cancelUpdates" }
  | {
      readonly kind: "startTimer"
      readonly timerId: string
      readonly ms: number
      readonly purpose: "deadline" | "pause"
    }
  | { readonly kind: "cancelTimer"; readonly timerId: string }
  /** Stop a wave's analysis whose verdict is no longer wanted (`promote --full`). */
  | { readonly kind: "cancelAnalysis"; readonly wave: number }
  | { readonly kind: "runAnalysis"; readonly wave: number; readonly analysis: ReadonlyArray<string> }
  | { readonly kind: "rollbackTargets"; readonly targetIds: ReadonlyArray<string> }
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
