import type { Command, MachineEvent } from "../machine/types.js"

/**
 * Which commands have been issued and not yet answered by an event. The live interpreter and a
 * resumed one share this bookkeeping: after a crash, whatever is still outstanding in the journal
 * is exactly what must be run again. Updates and rollbacks are tracked per target (a batch command
 * is answered target by target), so each entry costs O(1) to add and to answer.
 */
export type Outstanding = Map<string, Command>

const keysOf = (command: Command): ReadonlyArray<string> => {
  switch (command.kind) {
    case "validate":
      return ["validate"]
    case "evaluateGates":
      return ["gates"]
    case "checkWave":
      return [`check:${command.wave}`]
    case "updateTargets":
      return command.targetIds.map((id) => `update:${id}`)
    case "startTimer":
      return [`timer:${command.timerId}`]
    case "runAnalysis":
      return [`analysis:${command.wave}`]
    case "rollbackTargets":
      return command.targetIds.map((id) => `rollback:${id}`)
    case "finalize":
      return ["finalize"]
    default:
      return []
  }
}

export const answeredKeys = (event: MachineEvent): ReadonlyArray<string> => {
  switch (event.type) {
    case "VALIDATED":
    case "INVALID":
      return ["validate"]
    case "GATES_PASSED":
    case "GATES_DENIED":
      return ["gates"]
    case "WAVE_CHECKED":
    case "WAVE_DENIED":
      return [`check:${event.wave}`]
    case "TARGETS_HEALTHY":
      return event.targetIds.map((id) => `update:${id}`)
    case "TARGET_FAILED":
      return [`update:${event.targetId}`]
    case "TIMER_FIRED":
      return [`timer:${event.timerId}`]
    case "ANALYSIS_PASSED":
    case "ANALYSIS_FAILED":
      return [`analysis:${event.wave}`]
    case "TARGETS_ROLLED_BACK":
      return event.targetIds.map((id) => `rollback:${id}`)
    case "TARGETS_ROLLBACK_FAILED":
      return event.failures.map((f) => `rollback:${f.targetId}`)
    case "FINALIZED":
      return ["finalize"]
    default:
      return []
  }
}

/**
 * Folds an event the machine consumed and the commands it answered with into `outstanding`
 * (updated in place: the map belongs to one interpreter or one replay) and returns it.
 */
export const track = (
  outstanding: Outstanding,
  event: MachineEvent | undefined,
  commands: ReadonlyArray<Command>
): Outstanding => {
  if (event !== undefined) for (const key of answeredKeys(event)) outstanding.delete(key)
  for (const command of commands) {
    if (command.kind === "cancelUpdates") {
      for (const key of [...outstanding.keys()]) if (key.startsWith("update:")) outstanding.delete(key)
    } else if (command.kind === "cancelTimer") {
      outstanding.delete(`timer:${command.timerId}`)
    } else if (command.kind === "cancelAnalysis") {
      outstanding.delete(`analysis:${command.wave}`)
    } else {
      for (const key of keysOf(command)) outstanding.set(key, command)
    }
  }
  return outstanding
}

/**
 * The commands to run again for what is outstanding: per-target entries regrouped into one batch
 * per wave (updates) and one for rollbacks, each naming only its unanswered targets.
 */
export const outstandingCommands = (outstanding: Outstanding): Command[] => {
  const commands: Command[] = []
  const updates = new Map<number, string[]>()
  const rollbacks: string[] = []
  for (const [key, command] of outstanding) {
    if (command.kind === "updateTargets") {
      const id = key.slice("update:".length)
      const list = updates.get(command.wave)
      if (list === undefined) updates.set(command.wave, [id])
      else list.push(id)
    } else if (command.kind === "rollbackTargets") {
      rollbacks.push(key.slice("rollback:".length))
    } else {
      commands.push(command)
    }
  }
  for (const [wave, targetIds] of updates) commands.push({ kind: "updateTargets", wave, targetIds })
  if (rollbacks.length > 0) commands.push({ kind: "rollbackTargets", targetIds: rollbacks })
  return commands
}
