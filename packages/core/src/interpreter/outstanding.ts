import { targetIdsOf } from "../machine/steps.js"
import type { Command, MachineEvent, MachineInput } from "../machine/types.js"
import { PerTarget } from "./perTarget.js"

type UpdateCommand = Extract<Command, { readonly kind: "updateTargets" }>

/**
 * Which commands have been issued and not yet answered by an event. The live interpreter and a
 * resumed one share this bookkeeping: after a crash, whatever is still outstanding in the journal
 * is exactly what must be run again. Updates and rollbacks are tracked per target (a batch command
 * is answered target by target), so each entry costs O(1) to add and to answer; updates, a whole
 * wave at a time, in a slot per target (see {@link PerTarget}), so a 10,000-target wave grows and
 * shrinks no table.
 *
 * Read as a map from key to command (`update:<id>`, `rollback:<id>`, `timer:<id>`, `check:<wave>`,
 * `gates`, …): the other commands in the order they were issued, then the unanswered updates in the
 * machine's target order, then the rollbacks in the order they were issued.
 */
export class Outstanding {
  private readonly updates: PerTarget<UpdateCommand>
  private readonly rollbacks = new Map<string, Command>()
  private readonly others = new Map<string, Command>()

  constructor(input: MachineInput) {
    this.updates = new PerTarget(targetIdsOf(input))
  }

  get size(): number {
    return this.others.size + this.updates.size + this.rollbacks.size
  }

  has(key: string): boolean {
    if (key.startsWith("update:")) return this.updates.has(key.slice("update:".length))
    if (key.startsWith("rollback:")) return this.rollbacks.has(key.slice("rollback:".length))
    return this.others.has(key)
  }

  entries(): Array<[string, Command]> {
    const out: Array<[string, Command]> = [...this.others]
    this.updates.forEach((command, id) => out.push([`update:${id}`, command]))
    for (const [id, command] of this.rollbacks) out.push([`rollback:${id}`, command])
    return out
  }

  keys(): string[] {
    return this.entries().map(([key]) => key)
  }

  values(): Command[] {
    return this.entries().map(([, command]) => command)
  }

  [Symbol.iterator](): IterableIterator<[string, Command]> {
    return this.entries().values()
  }

  /** The commands to run again: the others, each wave's unanswered updates, the rollbacks. */
  commands(): Command[] {
    const commands = [...this.others.values()]
    const updates = new Map<number, string[]>()
    this.updates.forEach((command, id) => {
      const ids = updates.get(command.wave)
      if (ids === undefined) updates.set(command.wave, [id])
      else ids.push(id)
    })
    for (const wave of [...updates.keys()].sort((a, b) => a - b))
      commands.push({ kind: "updateTargets", wave, targetIds: updates.get(wave)! })
    if (this.rollbacks.size > 0) commands.push({ kind: "rollbackTargets", targetIds: [...this.rollbacks.keys()] })
    return commands
  }

  answer(event: MachineEvent): void {
    switch (event.type) {
      case "TARGETS_HEALTHY":
        for (const id of event.targetIds) this.updates.delete(id)
        return
      case "TARGET_FAILED":
        this.updates.delete(event.targetId)
        return
      case "TARGETS_ROLLED_BACK":
        for (const id of event.targetIds) this.rollbacks.delete(id)
        return
      case "TARGETS_ROLLBACK_FAILED":
        for (const f of event.failures) this.rollbacks.delete(f.targetId)
        return
      default:
        for (const key of answeredKeys(event)) this.others.delete(key)
    }
  }

  issue(command: Command): void {
    switch (command.kind) {
      case "updateTargets":
        for (const id of command.targetIds) this.updates.set(id, command)
        return
      case "rollbackTargets":
        for (const id of command.targetIds) this.rollbacks.set(id, command)
        return
      case "cancelUpdates":
        this.updates.clear()
        return
      case "cancelTimer":
        this.others.delete(`timer:${command.timerId}`)
        return
      case "cancelAnalysis":
        this.others.delete(`analysis:${command.wave}`)
        return
      default:
        for (const key of keysOf(command)) this.others.set(key, command)
    }
  }
}

/** Nothing outstanding yet, for a rollout whose machine has this input. */
export const noneOutstanding = (input: MachineInput): Outstanding => new Outstanding(input)

/** The keys of a command tracked by key (not per target). */
const keysOf = (command: Command): ReadonlyArray<string> => {
  switch (command.kind) {
    case "validate":
      return ["validate"]
    case "evaluateGates":
      return ["gates"]
    case "checkWave":
      return [`check:${command.wave}`]
    case "startTimer":
      return [`timer:${command.timerId}`]
    case "runAnalysis":
      return [`analysis:${command.wave}`]
    case "finalize":
      return ["finalize"]
    default:
      return []
  }
}

/** The keys an event answers, for the commands tracked by key. */
const answeredKeys = (event: MachineEvent): ReadonlyArray<string> => {
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
    case "TIMER_FIRED":
      return [`timer:${event.timerId}`]
    case "ANALYSIS_PASSED":
    case "ANALYSIS_FAILED":
      return [`analysis:${event.wave}`]
    case "FINALIZED":
      return ["finalize"]
    default:
      return []
  }
}

/**
 * Folds an event the machine consumed and the commands it answered with into `outstanding`
 * (updated in place: it belongs to one interpreter or one replay) and returns it.
 */
export const track = (
  outstanding: Outstanding,
  event: MachineEvent | undefined,
  commands: ReadonlyArray<Command>
): Outstanding => {
  if (event !== undefined) outstanding.answer(event)
  for (const command of commands) outstanding.issue(command)
  return outstanding
}

/**
 * The commands to run again for what is outstanding: per-target entries regrouped into one batch
 * per wave (updates) and one for rollbacks, each naming only its unanswered targets.
 */
export const outstandingCommands = (outstanding: Outstanding): Command[] => outstanding.commands()
