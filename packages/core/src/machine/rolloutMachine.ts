import { enqueueActions, setup } from "xstate"
import { formatDuration } from "../spec/Duration.js"
import {
  beginRollback,
  beginWave,
  cancelDeadline,
  currentWave,
  initialContext,
  pauseWave,
  resumeWave,
  isInFlight,
  isRepairing,
  repairsSettled,
  rollbackDone,
  tolerateFailure,
  withinFailureBudget,
  rollbacksSettled,
  type Step,
  targetsHealthy,
  waveComplete
} from "./steps.js"
import type { Command, MachineInput, Outcome, RolloutContext, MachineEvent } from "./types.js"

/**
 * Applies a pure step inside an XState action: the patch becomes an assign and each command an
 * action the interpreter runs. The machine itself never performs I/O.
 */
const run = (f: (ctx: RolloutContext, event: MachineEvent) => Step) =>
  enqueueActions<RolloutContext, MachineEvent, undefined, MachineEvent, never, never, never, never, never>(
    ({ context, event, enqueue }) => {
      const step = f(context, event)
      if (Object.keys(step.patch).length > 0) enqueue.assign(step.patch)
      for (const command of step.commands) enqueue({ type: "command", params: command } as never)
    }
  )

const command = (c: (ctx: RolloutContext, event: MachineEvent) => Command) =>
  run((ctx, event) => ({ patch: {}, commands: [c(ctx, event)] }))

const finished = (outcome: Outcome) =>
  run((ctx) => ({
    patch: {},
    commands: [
      { kind: "cancelUpdates" },
      {
        kind: "notify",
        note:
          ctx.failure === undefined
            ? { kind: "finished", outcome }
            : { kind: "finished", outcome, reason: ctx.failure.reason }
      }
    ]
  }))

const failWith = (reason: (ctx: RolloutContext, event: MachineEvent) => { reason: string; target?: string }) =>
  run((ctx, event) => {
    const r = reason(ctx, event)
    return {
      patch: { failure: { ...r, wave: ctx.waveIndex } },
      commands: []
    }
  })

/**
 * `promote --full` (Argo Rollouts' meaning): every remaining pause, approval and analysis is
 * skipped; the waves still go one after the other within their budgets, through the gates.
 */
const promoteFully: Step = { patch: { promotedFully: true }, commands: [] }
/** A plain promote ends the pause it arrives in; a full one also skips all that follow. */
const promotion = (e: MachineEvent): Step =>
  e.type === "PROMOTE" && e.full === true ? promoteFully : { patch: {}, commands: [] }

export const rolloutMachine = setup({
  types: {
    context: {} as RolloutContext,
    events: {} as MachineEvent,
    input: {} as MachineInput
  },
  actions: {
    // Intentionally empty: commands are data returned by transition() and run by the interpreter.
    command: (_args, _params: Command) => {}
  },
  guards: {
    isRollbackMode: ({ context }) => context.mode === "rollback",
    noMoreWaves: ({ context }) => context.waveIndex >= context.waves.length,
    heldByOperator: ({ context }) => context.userPaused,
    needsApproval: ({ context }) =>
      currentWave(context)?.approvalBefore === true && !context.approved && !context.promotedFully,
    waveComplete: ({ context }) => waveComplete(context),
    hasAnalysis: ({ context }) => (currentWave(context)?.analysis.length ?? 0) > 0,
    timedPause: ({ context }) => !context.promotedFully && currentWave(context)?.pauseAfter?.kind === "duration",
    pauseUntilResumed: ({ context }) =>
      !context.promotedFully && currentWave(context)?.pauseAfter?.kind === "untilResumed",
    fullPromotion: ({ event }) => event.type === "PROMOTE" && event.full === true,
    shouldRollBackOnFailure: ({ context }) => context.rollback.onFailure && context.touched > 0,
    shouldRollBackOnAbort: ({ context }) => context.rollback.onAbort && context.touched > 0,
    rollbackDoneWithFailures: ({ context }) => rollbackDone(context) && context.rollbackFailed > 0,
    rollbackDoneAfterAbort: ({ context }) => rollbackDone(context) && context.aborting,
    rollbackDone: ({ context }) => rollbackDone(context)
  }
}).createMachine({
  id: "rollout",
  context: ({ input }) => initialContext(input),
  initial: "starting",
  states: {
    starting: {
      always: [
        {
          guard: "isRollbackMode",
          target: "rollingBack",
          actions: run((ctx) => beginRollback(ctx, "manual rollback"))
        },
        { target: "validating" }
      ]
    },
    validating: {
      entry: command(() => ({ kind: "validate" })),
      on: {
        VALIDATED: "gating",
        INVALID: {
          target: "failed",
          actions: failWith((_, e) => ({ reason: e.type === "INVALID" ? e.reason : "invalid" }))
        },
        ABORT: "aborted"
      }
    },
    gating: {
      entry: command(() => ({ kind: "evaluateGates" })),
      on: {
        GATES_PASSED: "progressing",
        GATES_DENIED: {
          target: "blocked",
          actions: failWith((_, e) => ({ reason: e.type === "GATES_DENIED" ? e.reason : "denied" }))
        },
        ABORT: "aborted"
      }
    },
    progressing: {
      initial: "waveStart",
      on: {
        PAUSE: { actions: run((ctx) => pauseWave(ctx)) },
        RESUME: { actions: run((ctx) => resumeWave(ctx)) },
        // `promote --full` while a wave is being applied: no later pause, approval or analysis.
        PROMOTE: { guard: "fullPromotion", actions: run(() => promoteFully) },
        ABORT: [
          {
            guard: "shouldRollBackOnAbort",
            target: "rollingBack",
            actions: run((ctx, e) => {
              const reason = e.type === "ABORT" && e.reason !== undefined ? e.reason : "aborted by operator"
              const step = beginRollback(ctx, reason)
              return { patch: { ...step.patch, aborting: true, failure: { reason } }, commands: step.commands }
            })
          },
          {
            target: "aborted",
            actions: run((_, e) => ({
              patch: {
                failure: { reason: e.type === "ABORT" && e.reason !== undefined ? e.reason : "aborted by operator" }
              },
              commands: []
            }))
          }
        ]
      },
      states: {
        waveStart: {
          always: [
            { guard: "noMoreWaves", target: "#rollout.finalizing" },
            { guard: "heldByOperator", target: "held" },
            { guard: "needsApproval", target: "awaitingApproval" },
            { target: "checking" }
          ]
        },
        held: {
          on: {
            RESUME: {
              target: "waveStart",
              actions: run((ctx) => ({
                patch: { userPaused: false },
                commands: [{ kind: "notify", note: { kind: "resumed", wave: ctx.waveIndex } }]
              }))
            }
          }
        },
        awaitingApproval: {
          entry: command((ctx) => ({ kind: "notify", note: { kind: "awaitingApproval", wave: ctx.waveIndex } })),
          on: {
            APPROVE: { target: "checking", actions: run(() => ({ patch: { approved: true }, commands: [] })) },
            PROMOTE: { guard: "fullPromotion", target: "checking", actions: run(() => promoteFully) }
          }
        },
        checking: {
          entry: command((ctx) => ({ kind: "checkWave", wave: ctx.waveIndex })),
          on: {
            WAVE_CHECKED: { guard: ({ context, event }) => event.wave === context.waveIndex, target: "applying" },
            WAVE_DENIED: {
              guard: ({ context, event }) => event.wave === context.waveIndex,
              target: "#rollout.failing",
              actions: failWith((_, e) => ({ reason: e.type === "WAVE_DENIED" ? e.reason : "denied" }))
            }
          }
        },
        applying: {
          entry: run((ctx) => beginWave(ctx)),
          always: {
            guard: "waveComplete",
            target: "analysing",
            actions: run((ctx) => {
              const c = cancelDeadline(ctx)
              return {
                patch: c.patch,
                commands: [...c.commands, { kind: "notify", note: { kind: "waveHealthy", wave: ctx.waveIndex } }]
              }
            })
          },
          on: {
            TARGETS_HEALTHY: {
              actions: run((ctx, e) =>
                e.type === "TARGETS_HEALTHY" ? targetsHealthy(ctx, e.targetIds) : { patch: {}, commands: [] }
              )
            },
            TARGET_FAILED: [
              {
                // Within the failure budget: rolled back on its own, the rollout goes on.
                guard: ({ context, event }) => withinFailureBudget(context, event.targetId),
                actions: run((ctx, e) =>
                  e.type === "TARGET_FAILED" ? tolerateFailure(ctx, e.targetId) : { patch: {}, commands: [] }
                )
              },
              {
                guard: ({ context, event }) =>
                  isInFlight(context, event.targetId) && !isRepairing(context, [event.targetId]),
                target: "#rollout.failing",
                actions: failWith((_, e) =>
                  e.type === "TARGET_FAILED" ? { reason: e.reason, target: e.targetId } : { reason: "target failed" }
                )
              }
            ],
            TARGETS_ROLLED_BACK: {
              actions: run((ctx, e) =>
                e.type === "TARGETS_ROLLED_BACK" ? repairsSettled(ctx, e.targetIds, true) : { patch: {}, commands: [] }
              )
            },
            TARGETS_ROLLBACK_FAILED: {
              // A target that failed within the budget could not be restored: the rollout fails.
              guard: ({ context, event }) =>
                isRepairing(
                  context,
                  event.failures.map((f) => f.targetId)
                ),
              target: "#rollout.failing",
              actions: failWith((_, e) => {
                const first = e.type === "TARGETS_ROLLBACK_FAILED" ? e.failures[0] : undefined
                return first === undefined
                  ? { reason: "a rollback within the failure budget failed" }
                  : {
                      reason: `${first.targetId} failed within the failure budget, and rolling it back failed: ${first.reason}`,
                      target: first.targetId
                    }
              })
            },
            TIMER_FIRED: {
              guard: ({ context, event }) => event.timerId === context.deadlineTimer,
              target: "#rollout.failing",
              actions: failWith((ctx) => ({
                reason: `progress deadline of ${formatDuration(ctx.progressDeadlineMs)} exceeded in wave ${ctx.waveIndex} (${ctx.inFlight} target(s) not healthy)`
              }))
            }
          }
        },
        analysing: {
          always: {
            guard: ({ context }) => context.promotedFully || (currentWave(context)?.analysis.length ?? 0) === 0,
            target: "afterWave"
          },
          entry: run((ctx) => {
            const wave = currentWave(ctx)
            return wave === undefined || wave.analysis.length === 0 || ctx.promotedFully
              ? { patch: {}, commands: [] }
              : { patch: {}, commands: [{ kind: "runAnalysis", wave: ctx.waveIndex, analysis: wave.analysis }] }
          }),
          on: {
            ANALYSIS_PASSED: { guard: ({ context, event }) => event.wave === context.waveIndex, target: "afterWave" },
            PROMOTE: {
              guard: "fullPromotion",
              target: "afterWave",
              actions: run((ctx) => ({
                patch: promoteFully.patch,
                commands: [{ kind: "cancelAnalysis", wave: ctx.waveIndex }]
              }))
            },
            ANALYSIS_FAILED: {
              guard: ({ context, event }) => event.wave === context.waveIndex,
              target: "#rollout.failing",
              actions: failWith((_, e) => ({ reason: e.type === "ANALYSIS_FAILED" ? e.reason : "analysis failed" }))
            }
          }
        },
        afterWave: {
          always: [
            { guard: "timedPause", target: "pausedTimed" },
            { guard: "pauseUntilResumed", target: "pausedUntilResumed" },
            { target: "nextWave" }
          ]
        },
        pausedTimed: {
          entry: run((ctx) => {
            const pause = currentWave(ctx)?.pauseAfter
            const timerId = `pause-${ctx.waveIndex}-${ctx.timerSeq}`
            return {
              patch: { pauseTimer: timerId, timerSeq: ctx.timerSeq + 1 },
              commands: [
                { kind: "notify", note: { kind: "paused", wave: ctx.waveIndex, reason: "step" } },
                { kind: "startTimer", timerId, ms: pause?.kind === "duration" ? pause.ms : 0, purpose: "pause" }
              ]
            }
          }),
          on: {
            TIMER_FIRED: { guard: ({ context, event }) => event.timerId === context.pauseTimer, target: "nextWave" },
            RESUME: { target: "nextWave", actions: run(() => ({ patch: { userPaused: false }, commands: [] })) },
            PROMOTE: { target: "nextWave", actions: run((_, e) => promotion(e)) }
          },
          // Leaving the pause any way (timer, resume, promote, abort) retires its timer.
          exit: run((ctx) => ({
            patch: { pauseTimer: undefined },
            commands: ctx.pauseTimer === undefined ? [] : [{ kind: "cancelTimer", timerId: ctx.pauseTimer }]
          }))
        },
        pausedUntilResumed: {
          entry: command((ctx) => ({ kind: "notify", note: { kind: "paused", wave: ctx.waveIndex, reason: "step" } })),
          on: {
            RESUME: { target: "nextWave", actions: run(() => ({ patch: { userPaused: false }, commands: [] })) },
            PROMOTE: { target: "nextWave", actions: run((_, e) => promotion(e)) }
          }
        },
        nextWave: {
          entry: run((ctx) => ({
            patch: { waveIndex: ctx.waveIndex + 1, cursor: 0, pending: 0, approved: false },
            commands: []
          })),
          always: { target: "waveStart" }
        }
      }
    },
    failing: {
      always: [
        {
          guard: "shouldRollBackOnFailure",
          target: "rollingBack",
          actions: run((ctx) => beginRollback(ctx, ctx.failure?.reason ?? "failure"))
        },
        { target: "failed" }
      ]
    },
    rollingBack: {
      always: [
        { guard: "rollbackDoneWithFailures", target: "rollbackFailed" },
        { guard: "rollbackDoneAfterAbort", target: "aborted" },
        { guard: "rollbackDone", target: "rolledBack" }
      ],
      on: {
        TARGETS_ROLLED_BACK: {
          actions: run((ctx, e) =>
            e.type === "TARGETS_ROLLED_BACK" ? rollbacksSettled(ctx, e.targetIds, true) : { patch: {}, commands: [] }
          )
        },
        TARGETS_ROLLBACK_FAILED: {
          actions: run((ctx, e) =>
            e.type === "TARGETS_ROLLBACK_FAILED"
              ? rollbacksSettled(
                  ctx,
                  e.failures.map((f) => f.targetId),
                  false
                )
              : { patch: {}, commands: [] }
          )
        }
      }
    },
    finalizing: {
      entry: command(() => ({ kind: "finalize" })),
      on: { FINALIZED: "completed" }
    },
    completed: { type: "final", entry: finished("completed") },
    blocked: { type: "final", entry: finished("blocked") },
    failed: { type: "final", entry: finished("failed") },
    rolledBack: { type: "final", entry: finished("rolledBack") },
    rollbackFailed: { type: "final", entry: finished("rollbackFailed") },
    aborted: { type: "final", entry: finished("aborted") }
  }
})

export type RolloutMachine = typeof rolloutMachine
export type RolloutSnapshot = ReturnType<typeof rolloutMachine.resolveState>

/** Final state names, which are also the rollout's outcome. */
export const outcomeOf = (snapshot: RolloutSnapshot): Outcome | undefined => {
  const value = snapshot.value
  return typeof value === "string" &&
    ["completed", "blocked", "failed", "rolledBack", "rollbackFailed", "aborted"].includes(value)
    ? (value as Outcome)
    : undefined
}
