import { Effect } from "effect"
import type { Note } from "../machine/types.js"

/**
 * The run's log lines: one per wave boundary, pause, rollback and outcome (never per target, so
 * a large fleet does not flood a log pipeline), annotated with the wave (its index, as everywhere
 * in Sluice: the first wave is wave 0; the message adds its position, "wave 0 (1/4)") on top of the rollout id the whole run carries. Progress is logged at Debug (Effect's
 * default logger prints Info and above, and an embedding application did not ask for our progress
 * on its console; `sluice --log-level debug` shows it); what an operator must look at is a warning
 * (a rollback, a failed target) or an error (an outcome other than completed or rolled back).
 */
export const logNote = (note: Note, waves: number): Effect.Effect<void> => {
  const inWave =
    (wave: number) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.annotateLogs(effect, { wave })
  switch (note.kind) {
    case "waveStarted":
      return Effect.logDebug(`wave ${note.wave} (${note.wave + 1}/${waves}) started: ${note.targets} target(s)`).pipe(
        inWave(note.wave)
      )
    case "waveHealthy":
      return Effect.logDebug(`wave ${note.wave} (${note.wave + 1}/${waves}) healthy`).pipe(inWave(note.wave))
    case "awaitingApproval":
      return Effect.logDebug(`wave ${note.wave} (${note.wave + 1}/${waves}) waits for an approval`).pipe(
        inWave(note.wave)
      )
    case "paused":
      return Effect.logDebug(`paused (${note.reason === "step" ? "a pause step" : "by an operator"})`).pipe(
        inWave(note.wave)
      )
    case "resumed":
      return Effect.logDebug("resumed").pipe(inWave(note.wave))
    case "rollbackStarted":
      return Effect.logWarning(`rolling back ${note.targets} target(s): ${note.reason}`)
    case "finished": {
      const log =
        note.outcome === "completed" || note.outcome === "aborted"
          ? Effect.logDebug
          : note.outcome === "rolledBack" || note.outcome === "blocked"
            ? Effect.logWarning
            : Effect.logError
      return log(`finished: ${note.outcome}${note.reason === undefined ? "" : ` (${note.reason})`}`).pipe(
        Effect.annotateLogs({ outcome: note.outcome })
      )
    }
  }
}
