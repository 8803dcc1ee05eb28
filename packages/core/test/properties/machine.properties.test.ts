import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import { track } from "../../src/interpreter/outstanding.js"
import { outcomeOf, type RolloutSnapshot, rolloutMachine } from "../../src/machine/rolloutMachine.js"
import type { Command, MachineEvent, MachineInput } from "../../src/machine/types.js"
import { propertyRuns } from "./scenario.js"

const RUNS = propertyRuns(300)

const inputArb: fc.Arbitrary<MachineInput> = fc
  .record({
    sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 5 }),
    maxUnavailable: fc.integer({ min: 1, max: 3 }),
    pauses: fc.array(fc.constantFrom("none", "duration", "untilResumed"), { minLength: 5, maxLength: 5 }),
    approvals: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    analysis: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    onFailure: fc.boolean(),
    onAbort: fc.boolean()
  })
  .map(({ sizes, maxUnavailable, pauses, approvals, analysis, onFailure, onAbort }) => {
    let n = 0
    return {
      waves: sizes.map((size, index) => {
        const targets = Array.from({ length: size }, () => `t${n++}`)
        const pause = pauses[index]
        return {
          index,
          targets,
          maxUnavailable,
          maxSurge: 0,
          ...(pause === "duration" ? { pauseAfter: { kind: "duration" as const, ms: 10 } } : {}),
          ...(pause === "untilResumed" ? { pauseAfter: { kind: "untilResumed" as const } } : {}),
          analysis: analysis[index] ? ["error-rate"] : [],
          approvalBefore: approvals[index] ?? false
        }
      }),
      rollback: { onFailure, onAbort },
      progressDeadlineMs: 1000,
      rollbackConcurrency: 2
    }
  })

const commandsOf = (actions: ReadonlyArray<{ type: string; params: unknown }>) =>
  actions.filter((a) => a.type === "command").map((a) => a.params as Command)

/** Every event that answers an outstanding command, good or bad, plus operator controls. */
const candidateEvents = (outstanding: ReadonlyMap<string, Command>): MachineEvent[] => {
  const events: MachineEvent[] = [
    { type: "PAUSE" },
    { type: "RESUME" },
    { type: "APPROVE" },
    { type: "PROMOTE" },
    { type: "ABORT" },
    { type: "TIMER_FIRED", timerId: "bogus" },
    { type: "TARGET_HEALTHY", targetId: "t0" }
  ]
  for (const c of outstanding.values()) {
    switch (c.kind) {
      case "validate":
        events.push({ type: "VALIDATED" }, { type: "INVALID", reason: "x" })
        break
      case "evaluateGates":
        events.push({ type: "GATES_PASSED" }, { type: "GATES_DENIED", reason: "x" })
        break
      case "checkWave":
        events.push({ type: "WAVE_CHECKED", wave: c.wave }, { type: "WAVE_DENIED", wave: c.wave, reason: "x" })
        break
      case "updateTarget":
        events.push(
          { type: "TARGET_HEALTHY", targetId: c.targetId },
          { type: "TARGET_FAILED", targetId: c.targetId, reason: "x" }
        )
        break
      case "startTimer":
        events.push({ type: "TIMER_FIRED", timerId: c.timerId })
        break
      case "runAnalysis":
        events.push({ type: "ANALYSIS_PASSED", wave: c.wave }, { type: "ANALYSIS_FAILED", wave: c.wave, reason: "x" })
        break
      case "rollbackTarget":
        events.push(
          { type: "TARGET_ROLLED_BACK", targetId: c.targetId },
          { type: "TARGET_ROLLBACK_FAILED", targetId: c.targetId, reason: "x" }
        )
        break
      case "finalize":
        events.push({ type: "FINALIZED" })
        break
    }
  }
  return events
}

/** The cooperative world: every command succeeds, the operator approves, resumes and promotes. */
const friendlyEvent = (snapshot: RolloutSnapshot, outstanding: ReadonlyMap<string, Command>): MachineEvent => {
  // A paused wave waits for the operator; anything else outstanding is answered first (a pause
  // flag left over when the rollout is already finalizing changes nothing there).
  const paused = snapshot.context.userPaused && JSON.stringify(snapshot.value).includes("progressing")
  if (paused) return { type: "RESUME" }
  for (const c of outstanding.values()) {
    switch (c.kind) {
      case "validate":
        return { type: "VALIDATED" }
      case "evaluateGates":
        return { type: "GATES_PASSED" }
      case "checkWave":
        return { type: "WAVE_CHECKED", wave: c.wave }
      case "updateTarget":
        return { type: "TARGET_HEALTHY", targetId: c.targetId }
      case "runAnalysis":
        return { type: "ANALYSIS_PASSED", wave: c.wave }
      case "rollbackTarget":
        return { type: "TARGET_ROLLED_BACK", targetId: c.targetId }
      case "finalize":
        return { type: "FINALIZED" }
    }
  }
  const timer = [...outstanding.values()].find((c) => c.kind === "startTimer" && c.purpose === "pause")
  if (timer !== undefined && timer.kind === "startTimer") return { type: "TIMER_FIRED", timerId: timer.timerId }
  return JSON.stringify(snapshot.value).includes("awaitingApproval") ? { type: "APPROVE" } : { type: "RESUME" }
}

interface Walk {
  snapshot: RolloutSnapshot
  outstanding: Map<string, Command>
  updatesIssued: Command[]
  gatesPassed: boolean
}

const step = (walk: Walk, event: MachineEvent, input: MachineInput) => {
  const [next, actions] = transition(rolloutMachine, walk.snapshot, event as never)
  const commands = commandsOf(actions)
  walk.snapshot = next as RolloutSnapshot
  walk.outstanding = track(walk.outstanding, event, commands)
  if (event.type === "GATES_PASSED") walk.gatesPassed = true
  const ctx = walk.snapshot.context
  for (const c of commands) {
    if (c.kind === "updateTarget") {
      walk.updatesIssued.push(c)
      // Updates only for the current wave's targets, only after the gates passed.
      expect(walk.gatesPassed).toBe(true)
      expect(input.waves[c.wave]?.targets).toContain(c.targetId)
      expect(c.wave).toBe(ctx.waveIndex)
    }
  }
  // Never more in flight than the wave allows; nothing dispatched while the operator paused.
  const wave = input.waves[ctx.waveIndex]
  if (wave !== undefined) expect(ctx.inFlight.length).toBeLessThanOrEqual(wave.maxUnavailable + wave.maxSurge)
  expect(ctx.rollbackInFlight.length).toBeLessThanOrEqual(ctx.rollbackConcurrency)
}

describe("rollout machine (pure)", () => {
  it("obeys its budgets under any event sequence, and every state it reaches can still reach a final one", () => {
    fc.assert(
      fc.property(inputArb, fc.array(fc.nat(), { maxLength: 60 }), (input, picks) => {
        const [initial, actions] = initialTransition(rolloutMachine, input)
        const walk: Walk = {
          snapshot: initial as RolloutSnapshot,
          outstanding: track(new Map(), undefined, commandsOf(actions)),
          updatesIssued: [],
          gatesPassed: false
        }
        for (const pick of picks) {
          if (walk.snapshot.status === "done") break
          const candidates = candidateEvents(walk.outstanding)
          step(walk, candidates[pick % candidates.length]!, input)
        }
        // From wherever the random walk stopped, a cooperative world reaches a final state.
        let guard = 0
        while (walk.snapshot.status !== "done") {
          expect(guard++, `stuck in ${JSON.stringify(walk.snapshot.value)}`).toBeLessThan(500)
          step(walk, friendlyEvent(walk.snapshot, walk.outstanding), input)
        }
        expect(outcomeOf(walk.snapshot)).toBeDefined()
      }),
      { numRuns: RUNS }
    )
  })

  it("never issues an update when the gates deny", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        let [snapshot, actions] = initialTransition(rolloutMachine, input)
        let commands = commandsOf(actions)
        ;[snapshot, actions] = transition(rolloutMachine, snapshot, { type: "VALIDATED" })
        commands = commands.concat(commandsOf(actions))
        ;[snapshot, actions] = transition(rolloutMachine, snapshot, { type: "GATES_DENIED", reason: "root" })
        commands = commands.concat(commandsOf(actions))
        expect(snapshot.value).toBe("blocked")
        expect(commands.some((c) => c.kind === "updateTarget" || c.kind === "rollbackTarget")).toBe(false)
      }),
      { numRuns: RUNS }
    )
  })

  it("completes a plan in the cooperative world, updating each target exactly once, wave after wave", () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const [initial, actions] = initialTransition(rolloutMachine, input)
        const walk: Walk = {
          snapshot: initial as RolloutSnapshot,
          outstanding: track(new Map(), undefined, commandsOf(actions)),
          updatesIssued: [],
          gatesPassed: false
        }
        let guard = 0
        while (walk.snapshot.status !== "done" && guard++ < 1000)
          step(walk, friendlyEvent(walk.snapshot, walk.outstanding), input)
        expect(walk.snapshot.value).toBe("completed")
        const ids = walk.updatesIssued.map((c) => (c.kind === "updateTarget" ? c.targetId : ""))
        expect(ids).toEqual(input.waves.flatMap((w) => w.targets))
      }),
      { numRuns: RUNS }
    )
  })
})

describe("rollout machine regressions", () => {
  it("finishes a rollout whose last wave completed while the operator had paused it", () => {
    const input: MachineInput = {
      waves: [{ index: 0, targets: ["t0"], maxUnavailable: 1, maxSurge: 0, analysis: [], approvalBefore: false }],
      rollback: { onFailure: false, onAbort: false },
      progressDeadlineMs: 1000,
      rollbackConcurrency: 2
    }
    let [s] = initialTransition(rolloutMachine, input)
    const events: MachineEvent[] = [
      { type: "VALIDATED" },
      { type: "GATES_PASSED" },
      { type: "WAVE_CHECKED", wave: 0 },
      { type: "PAUSE" },
      { type: "TARGET_HEALTHY", targetId: "t0" }
    ]
    for (const e of events) [s] = transition(rolloutMachine, s, e)
    expect(s.value).toBe("finalizing")
    ;[s] = transition(rolloutMachine, s, { type: "FINALIZED" })
    expect(s.value).toBe("completed")
  })
})
