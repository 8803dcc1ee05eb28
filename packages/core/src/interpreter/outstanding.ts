import type { Command, MachineEvent } from "../machine/types.js"

/**
 * Which commands have been issued and not yet answered by an event. The live interpreter and a
 * resumed one share this bookkeeping: after a crash, whatever is still outstanding in the journal
 * is exactly what must be run again.
 */
export type Outstanding = ReadonlyMap<string, Command>

export const commandKey = (command: Command): string | undefined => {
  switch (command.kind) {
    case "validate":
      return "validate"
    case "evaluateGates":
      return "gates"
    case "checkWave":
      return `check:${command.wave}`
    case "updateTarget":
      return `update:${command.targetId}`
    case "startTimer":
      return `timer:${command.timerId}`
    case "runAnalysis":
      return `analysis:${command.wave}`
    case "rollbackTarget":
      return `rollback:${command.targetId}`
    case "finalize":
      return "finalize"
    default:
      return undefined
  }
}

export const answeredKey = (event: MachineEvent): string | undefined => {
  switch (event.type) {
    case "VALIDATED":
    case "INVALID":
      return "validate"
    case "GATES_PASSED":
    case "GATES_DENIED":
      return "gates"
    case "WAVE_CHECKED":
    case "WAVE_DENIED":
      return `check:${event.wave}`
    case "TARGET_HEALTHY":
    case "TARGET_FAILED":
      return `update:${event.targetId}`
    case "TIMER_FIRED":
      return `timer:${event.timerId}`
    case "ANALYSIS_PASSED":
    case "ANALYSIS_FAILED":
      return `analysis:${event.wave}`
    case "TARGET_ROLLED_BACK":
    case "TARGET_ROLLBACK_FAILED":
      return `rollback:${event.targetId}`
    case "FINALIZED":
      return "finalize"
    default:
      return undefined
  }
}

/** The outstanding set after an event was consumed and the machine answered with `commands`. */
export const track = (
  outstanding: Outstanding,
  event: MachineEvent | undefined,
  commands: ReadonlyArray<Command>
): Map<string, Command> => {
  const next = new Map(outstanding)
  if (event !== undefined) {
    const answered = answeredKey(event)
    if (answered !== undefined) next.delete(answered)
  }
  for (const command of commands) {
    if (command.kind === "cancelUpdates") {
      for (const key of [...next.keys()]) if (key.startsWith("update:")) next.delete(key)
    } else if (command.kind === "cancelTimer") {
      next.delete(`timer:${command.timerId}`)
    } else {
      const key = commandKey(command)
      if (key !== undefined) next.set(key, command)
    }
  }
  return next
}
