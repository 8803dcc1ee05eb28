import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { initialTransition, transition } from "xstate"
import { noneOutstanding, type Outstanding, track } from "../../src/interpreter/outstanding.js"
import { outcomeOf, type RolloutSnapshot, rolloutMachine } from "../../src/machine/rolloutMachine.js"
import { persistContext, progressOf, restoreContext } from "../../src/machine/progress.js"
import { makeStepper, type Stepper } from "../../src/machine/stepper.js"
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
    onAbort: fc.boolean(),
    // The failure budget (topology.maxFailuresPerGroup): none, per rollout, or per group of two.
    budget: fc.integer({ min: 0, max: 2 }),
    grouped: fc.boolean()
  })
  .map(({ sizes, maxUnavailable, pauses, approvals, analysis, onFailure, onAbort, budget, grouped }) => {
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
      rollbackConcurrency: 2,
      ...(budget === 0
        ? {}
        : {
            failureBudget: {
              perGroup: budget,
              ...(grouped
                ? { groupOf: Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, `g${i % 2}`])) }
                : {})
            }
          })
    }
  })

const commandsOf = (actions: ReadonlyArray<{ type: string; params: unknown }>) =>
  actions.filter((a) => a.type === "command").map((a) => a.params as Command)

/** Every event that answers an outstanding command, good or bad, plus operator controls. */
const candidateEvents = (outstanding: Outstanding): MachineEvent[] => {
  const events: MachineEvent[] = [
    { type: "PAUSE" },
    { type: "RESUME" },
    { type: "APPROVE" },
    { type: "PROMOTE" },
    { type: "PROMOTE", full: true },
    { type: "ABORT" },
    { type: "TIMER_FIRED", timerId: "bogus" },
    { type: "TARGETS_HEALTHY", targetIds: ["t0"] }
  ]
  const updates: string[] = []
  for (const [key, c] of outstanding) {
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
      case "updateTargets": {
        const id = key.slice("update:".length)
        updates.push(id)
        events.push({ type: "TARGETS_HEALTHY", targetIds: [id] }, { type: "TARGET_FAILED", targetId: id, reason: "x" })
        break
      }
      case "startTimer":
        events.push({ type: "TIMER_FIRED", timerId: c.timerId })
        break
      case "runAnalysis":
        events.push({ type: "ANALYSIS_PASSED", wave: c.wave }, { type: "ANALYSIS_FAILED", wave: c.wave, reason: "x" })
        break
      case "rollbackTargets": {
        const id = key.slice("rollback:".length)
        events.push(
          { type: "TARGETS_ROLLED_BACK", targetIds: [id] },
          { type: "TARGETS_ROLLBACK_FAILED", failures: [{ targetId: id, reason: "x" }] }
        )
        break
      }
      case "finalize":
        events.push({ type: "FINALIZED" })
        break
    }
  }
  // Outcomes that arrive together travel as one event; duplicates must be harmless.
  if (updates.length > 1) events.push({ type: "TARGETS_HEALTHY", targetIds: [...updates, updates[0]!] })
  return events
}

/** The cooperative world: every command succeeds, the operator approves, resumes and promotes. */
const friendlyEvent = (snapshot: RolloutSnapshot, outstanding: Outstanding): MachineEvent => {
  // A paused wave waits for the operator; anything else outstanding is answered first (a pause
  // flag left over when the rollout is already finalizing changes nothing there).
  const paused = snapshot.context.userPaused && JSON.stringify(snapshot.value).includes("progressing")
  if (paused) return { type: "RESUME" }
  const batch = (prefix: string) =>
    [...outstanding.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
  for (const c of outstanding.values()) {
    switch (c.kind) {
      case "validate":
        return { type: "VALIDATED" }
      case "evaluateGates":
        return { type: "GATES_PASSED" }
      case "checkWave":
        return { type: "WAVE_CHECKED", wave: c.wave }
      case "updateTargets":
        return { type: "TARGETS_HEALTHY", targetIds: batch("update:") }
      case "runAnalysis":
        return { type: "ANALYSIS_PASSED", wave: c.wave }
      case "rollbackTargets":
        return { type: "TARGETS_ROLLED_BACK", targetIds: batch("rollback:") }
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
  outstanding: Outstanding
  updatesIssued: Command[]
  gatesPassed: boolean
}

const steppers = new WeakMap<MachineInput, Stepper>()

const step = (walk: Walk, event: MachineEvent, input: MachineInput) => {
  const [next, actions] = transition(rolloutMachine, walk.snapshot, event as never)
  const commands = commandsOf(actions)
  // The interpreter's stepper (one inert scope per run) answers exactly as XState's transition().
  let stepper = steppers.get(input)
  if (stepper === undefined) {
    stepper = makeStepper(input)
    steppers.set(input, stepper)
  }
  const [viaStepper, stepperCommands] = stepper.step(walk.snapshot, event)
  expect(viaStepper.value).toEqual(next.value)
  expect(JSON.stringify(viaStepper.context)).toBe(JSON.stringify(next.context))
  expect(stepperCommands).toEqual(commands)
  walk.snapshot = next as RolloutSnapshot
  walk.outstanding = track(walk.outstanding, event, commands)
  if (event.type === "GATES_PASSED") walk.gatesPassed = true
  const ctx = walk.snapshot.context
  for (const c of commands) {
    if (c.kind === "updateTargets") {
      walk.updatesIssued.push(c)
      // Updates only for the current wave's targets, only after the gates passed.
      expect(walk.gatesPassed).toBe(true)
      for (const id of c.targetIds) expect(input.waves[c.wave]?.targets).toContain(id)
      expect(c.wave).toBe(ctx.waveIndex)
    }
  }
  // Never more in flight than the wave allows; nothing dispatched while the operator paused.
  const wave = input.waves[ctx.waveIndex]
  if (wave !== undefined) expect(ctx.inFlight).toBeLessThanOrEqual(wave.maxUnavailable + wave.maxSurge)
  expect(ctx.rollbackInFlight).toBeLessThanOrEqual(ctx.rollbackConcurrency)
  // The counters agree with the per-target flags they summarize.
  const progress = progressOf(ctx)
  expect(progress.inFlight.length).toBe(ctx.inFlight)
  expect(progress.updated.length).toBe(ctx.updated)
  expect(progress.touched.length).toBe(ctx.touched)
  expect(progress.rolledBack.length).toBe(ctx.rolledBack)
  expect(progress.rollbackFailed.length).toBe(ctx.rollbackFailed)
  expect(progress.rollbackInFlight.length).toBe(ctx.rollbackInFlight)
  // While running, what is in flight is exactly what has an unanswered update, or failed within
  // the failure budget and has an unanswered rollback of its own (it stays down until restored).
  if (walk.snapshot.status !== "done") {
    const unanswered = [...walk.outstanding.keys()].filter((k) => k.startsWith("update:")).map((k) => k.slice(7))
    const repairing = progress.failedWithinBudget.filter(
      (id) => walk.outstanding.has(`rollback:${id}`) && progress.inFlight.includes(id)
    )
    expect([...unanswered, ...repairing].sort()).toEqual([...progress.inFlight].sort())
    expect(ctx.repairing).toBe(repairing.length)
  }
  // Failures within the budget never exceed it, in any group.
  const perGroup = input.failureBudget?.perGroup ?? 0
  const byGroup = new Map<string, number>()
  for (const id of progress.failedWithinBudget) {
    const g = input.failureBudget?.groupOf?.[id] ?? ""
    byGroup.set(g, (byGroup.get(g) ?? 0) + 1)
  }
  for (const count of byGroup.values()) expect(count).toBeLessThanOrEqual(perGroup)
  // A snapshot of the context restores to the same context.
  const restored = restoreContext(input, JSON.parse(JSON.stringify(persistContext(ctx))))
  expect(JSON.parse(JSON.stringify(restored))).toEqual(JSON.parse(JSON.stringify(ctx)))
}

describe("rollout machine (pure)", () => {
  it("obeys its budgets under any event sequence, and every state it reaches can still reach a final one", () => {
    fc.assert(
      fc.property(inputArb, fc.array(fc.nat(), { maxLength: 60 }), (input, picks) => {
        const [initial, actions] = initialTransition(rolloutMachine, input)
        const walk: Walk = {
          snapshot: initial as RolloutSnapshot,
          outstanding: track(noneOutstanding(input), undefined, commandsOf(actions)),
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
        expect(commands.some((c) => c.kind === "updateTargets" || c.kind === "rollbackTargets")).toBe(false)
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
          outstanding: track(noneOutstanding(input), undefined, commandsOf(actions)),
          updatesIssued: [],
          gatesPassed: false
        }
        let guard = 0
        while (walk.snapshot.status !== "done" && guard++ < 1000)
          step(walk, friendlyEvent(walk.snapshot, walk.outstanding), input)
        expect(walk.snapshot.value).toBe("completed")
        const ids = walk.updatesIssued.flatMap((c) => (c.kind === "updateTargets" ? c.targetIds : []))
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
      { type: "TARGETS_HEALTHY", targetIds: ["t0"] }
    ]
    for (const e of events) [s] = transition(rolloutMachine, s, e)
    expect(s.value).toBe("finalizing")
    ;[s] = transition(rolloutMachine, s, { type: "FINALIZED" })
    expect(s.value).toBe("completed")
  })
})
