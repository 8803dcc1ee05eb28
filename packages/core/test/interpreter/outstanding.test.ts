import { describe, expect, it } from "vitest"
import { noneOutstanding, outstandingCommands, track } from "../../src/interpreter/outstanding.js"
import type { MachineInput } from "../../src/machine/types.js"

const wave = (index: number, targets: ReadonlyArray<string>) => ({
  index,
  targets,
  maxUnavailable: targets.length,
  maxSurge: 0,
  analysis: [],
  approvalBefore: false
})

const input: MachineInput = {
  waves: [wave(0, ["a", "b", "c"]), wave(1, ["d", "e"])],
  rollback: { onFailure: true, onAbort: true },
  progressDeadlineMs: 1_000,
  rollbackConcurrency: 2
}

describe("outstanding commands", () => {
  it("re-issues each batch with only its unanswered targets, after the commands tracked by key", () => {
    const o = track(noneOutstanding(input), undefined, [
      { kind: "startTimer", timerId: "deadline-0", ms: 1_000, purpose: "deadline" },
      { kind: "updateTargets", wave: 0, targetIds: ["a", "b"] }
    ])
    track(o, { type: "TARGETS_HEALTHY", targetIds: ["a"] }, [{ kind: "updateTargets", wave: 0, targetIds: ["c"] }])
    track(o, { type: "TARGET_FAILED", targetId: "zz", reason: "unknown target" }, [
      { kind: "rollbackTargets", targetIds: ["c", "b"] }
    ])
    expect(o.has("update:a")).toBe(false)
    expect(o.has("update:b")).toBe(true)
    expect(o.has("rollback:c")).toBe(true)
    expect(o.keys()).toEqual(["timer:deadline-0", "update:b", "update:c", "rollback:c", "rollback:b"])
    expect(outstandingCommands(o)).toEqual([
      { kind: "startTimer", timerId: "deadline-0", ms: 1_000, purpose: "deadline" },
      { kind: "updateTargets", wave: 0, targetIds: ["b", "c"] },
      { kind: "rollbackTargets", targetIds: ["c", "b"] }
    ])
  })

  it("forgets every update on cancelUpdates, a timer on cancelTimer, and answers rollbacks per target", () => {
    const o = track(noneOutstanding(input), undefined, [
      { kind: "startTimer", timerId: "pause-1", ms: 5, purpose: "pause" },
      { kind: "updateTargets", wave: 1, targetIds: ["d", "e"] },
      { kind: "rollbackTargets", targetIds: ["a", "b"] }
    ])
    track(o, { type: "ABORT" }, [{ kind: "cancelUpdates" }, { kind: "cancelTimer", timerId: "pause-1" }])
    track(o, { type: "TARGETS_ROLLBACK_FAILED", failures: [{ targetId: "a", reason: "x" }] }, [])
    expect(o.size).toBe(1)
    expect(outstandingCommands(o)).toEqual([{ kind: "rollbackTargets", targetIds: ["b"] }])
    track(o, { type: "TARGETS_ROLLED_BACK", targetIds: ["b"] }, [])
    expect(o.size).toBe(0)
    expect(outstandingCommands(o)).toEqual([])
  })

  it("keeps an update for a target the machine does not know", () => {
    const o = track(noneOutstanding(input), undefined, [{ kind: "updateTargets", wave: 0, targetIds: ["x", "a"] }])
    expect(outstandingCommands(o)).toEqual([{ kind: "updateTargets", wave: 0, targetIds: ["a", "x"] }])
    track(o, { type: "TARGETS_HEALTHY", targetIds: ["x"] }, [])
    expect(outstandingCommands(o)).toEqual([{ kind: "updateTargets", wave: 0, targetIds: ["a"] }])
  })
})
