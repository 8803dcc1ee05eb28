import type { Outcome } from "@sluice/core"

/**
 * Exit codes (documented in `sluice --help`):
 *   0  completed (or the command did what it was asked)
 *   1  internal error: a bug, or the store/adapter failed in a way the rollout cannot handle
 *   2  blocked by a gate before any target was touched (violations listed per target and container)
 *   3  did not complete, and the fleet is consistent: rolled back, aborted, or failed with
 *      rollback disabled (targets left where they were, as configured)
 *   4  rollback failed: some targets could not be restored — needs attention
 *   5  policy test: every case passed, but coverage or the mutation score is below the
 *      --coverage-min / --mutate-min asked (the cases are too weak, not wrong)
 *   64 usage or spec error (every spec problem listed with its path); or the rollout (or the
 *      simulated fleet) is held by another live process, named in the message
 *   130 interrupted (Ctrl-C): the rollout stays in the store; `sluice resume <id>` continues it
 */
export const ExitCode = {
  ok: 0,
  internal: 1,
  blocked: 2,
  notCompleted: 3,
  rollbackFailed: 4,
  belowThreshold: 5,
  usage: 64,
  interrupted: 130
} as const

export const exitCodeFor = (outcome: Outcome): number => {
  switch (outcome) {
    case "completed":
      return ExitCode.ok
    case "blocked":
      return ExitCode.blocked
    case "rolledBack":
    case "aborted":
    case "failed":
      return ExitCode.notCompleted
    case "rollbackFailed":
      return ExitCode.rollbackFailed
  }
}

export const EXIT_CODES_HELP = `Exit codes:
  0    completed (for other commands: done as asked)
  1    internal error (a bug, or the store/adapter failed unexpectedly)
  2    blocked by a gate before any target was touched
  3    not completed: rolled back, aborted, or failed with rollback disabled
  4    rollback failed: some targets could not be restored (needs attention)
  64   usage or spec error; or another process runs the rollout (its holder is named)
  130  interrupted (Ctrl-C); the rollout stays in the store, \`sluice resume <id>\` continues it`
