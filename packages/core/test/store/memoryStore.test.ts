import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { makeMemoryStore } from "../../src/store/MemoryStore.js"
import type { RolloutHeader } from "../../src/store/RolloutStore.js"
import { configFor } from "../support/harness.js"

const header: RolloutHeader = {
  rolloutId: "m",
  createdAt: 0,
  spec: {},
  image: "img:2",
  adapter: "simulated",
  config: configFor({ rolloutId: "m" }),
  machineInput: {
    waves: [],
    rollback: { onFailure: true, onAbort: true },
    progressDeadlineMs: 1,
    rollbackConcurrency: 1
  },
  plan: { strategy: "rolling", targets: [], waves: [], upToDate: [], fingerprint: "x" },
  previous: {}
}

describe("in-memory RolloutStore", () => {
  it.effect("copies entries on append, so a caller mutating its objects cannot rewrite history", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore()
      yield* store.create(header)
      const entry = { kind: "event" as const, at: 1, event: { type: "ABORT" as const, reason: "first" } }
      yield* store.append("m", [entry])
      ;(entry.event as { reason: string }).reason = "rewritten"
      const read = yield* store.read("m")
      assert.deepStrictEqual(read.entries[0], { kind: "event", at: 1, event: { type: "ABORT", reason: "first" } })
    })
  )

  it.effect("keeps the latest snapshot and the single-writer lease", () =>
    Effect.gen(function* () {
      const store = makeMemoryStore()
      yield* store.create(header)
      yield* store.writeSnapshot("m", { seq: 3, machine: { value: "gating", context: {} }, commands: [] })
      yield* store.writeSnapshot("m", { seq: 7, machine: { value: "progressing", context: {} }, commands: [] })
      assert.strictEqual((yield* store.read("m")).snapshot?.seq, 7)
      yield* store.acquire("m", "a")
      const second = yield* Effect.exit(store.acquire("m", "b"))
      assert.isTrue(Exit.isFailure(second))
      yield* store.release("m", "a")
      yield* store.acquire("m", "b")
      assert.strictEqual(yield* store.owner("m"), "b")
    })
  )
})
