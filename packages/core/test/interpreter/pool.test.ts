import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { forEachPooled } from "../../src/interpreter/pool.js"

describe("forEachPooled", () => {
  it("keeps the items' order and never runs more than `concurrency` at once", async () => {
    let running = 0
    let most = 0
    const items = Array.from({ length: 200 }, (_, i) => i)
    const out = await Effect.runPromise(
      forEachPooled(
        items,
        (i) =>
          Effect.gen(function* () {
            running++
            most = Math.max(most, running)
            yield* Effect.sleep(i % 3)
            running--
            return i * 2
          }),
        7
      )
    )
    expect(out).toEqual(items.map((i) => i * 2))
    expect(most).toBe(7)
  })

  it("stops at the first failure", async () => {
    const seen: number[] = []
    const exit = await Effect.runPromiseExit(
      forEachPooled(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => {
          seen.push(i)
          return i === 3 ? Effect.fail(`bad ${i}`) : Effect.succeed(i)
        },
        1
      )
    )
    expect(exit._tag).toBe("Failure")
    expect(seen).toEqual([0, 1, 2, 3])
  })

  it("handles no items", async () => {
    expect(await Effect.runPromise(forEachPooled([], () => Effect.succeed(1), 4))).toEqual([])
  })
})
