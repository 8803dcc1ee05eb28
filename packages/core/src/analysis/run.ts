/**
 * Argo Rollouts' measurement semantics for one analysis run, pure: each measurement is Successful,
 * Failed, Inconclusive or Error, and the run's phase follows from the tally and the limits.
 *
 * Where Sluice differs from Argo (documented in docs/analysis.md):
 * - an Error measurement does not use up `count`: a run needs `count` measurements that answered,
 *   so it never succeeds on errors alone (fail closed);
 * - an Inconclusive run fails the wave (Argo pauses the rollout for a person): a rollout of agents
 *   is often unattended, and rolling back is the safe default; raise `inconclusiveLimit` to tolerate
 *   marginal judgements.
 */

export type MeasurementPhase = "Successful" | "Failed" | "Inconclusive" | "Error"
export type RunPhase = "Running" | "Successful" | "Failed" | "Inconclusive" | "Error"

export interface RunLimits {
  readonly count: number
  readonly failureLimit: number
  readonly inconclusiveLimit: number
  readonly consecutiveErrorLimit: number
}

export interface RunTally {
  /** Measurements that answered (every phase but Error). */
  readonly measured: number
  readonly successful: number
  readonly failed: number
  readonly inconclusive: number
  readonly errors: number
  readonly consecutiveErrors: number
}

export const emptyTally: RunTally = {
  measured: 0,
  successful: 0,
  failed: 0,
  inconclusive: 0,
  errors: 0,
  consecutiveErrors: 0
}

export const addMeasurement = (t: RunTally, phase: MeasurementPhase): RunTally =>
  phase === "Error"
    ? { ...t, errors: t.errors + 1, consecutiveErrors: t.consecutiveErrors + 1 }
    : {
        ...t,
        measured: t.measured + 1,
        consecutiveErrors: 0,
        successful: t.successful + (phase === "Successful" ? 1 : 0),
        failed: t.failed + (phase === "Failed" ? 1 : 0),
        inconclusive: t.inconclusive + (phase === "Inconclusive" ? 1 : 0)
      }

/** The run's phase after a measurement: a limit crossed ends it at once, as in Argo. */
export const assessRun = (t: RunTally, limits: RunLimits): RunPhase => {
  if (t.consecutiveErrors > limits.consecutiveErrorLimit) return "Error"
  if (t.failed > limits.failureLimit) return "Failed"
  if (t.inconclusive > limits.inconclusiveLimit) return "Inconclusive"
  if (t.measured >= limits.count) return "Successful"
  return "Running"
}

export const describeTally = (t: RunTally) =>
  `${t.successful} successful, ${t.failed} failed, ${t.inconclusive} inconclusive, ${t.errors} errors`
