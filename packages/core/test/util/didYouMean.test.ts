import { describe, expect, it } from "vitest"
import { didYouMean, editDistance } from "../../src/util/didYouMean.js"

describe("editDistance", () => {
  it.each([
    ["", "", 0],
    ["", "abc", 3],
    ["abc", "", 3],
    ["kitten", "sitting", 3],
    ["flaw", "lawn", 2],
    // an adjacent transposition is one edit, not two
    ["nmae", "name", 1],
    ["ab", "ba", 1],
    ["rollbak", "rollback", 1],
    ["same", "same", 0]
  ])("%j → %j = %d", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d)
    expect(editDistance(b, a)).toBe(d)
  })
})

describe("didYouMean", () => {
  const fields = ["name", "batchSize", "maxUnavailable", "maxSharePerWave", "rollback", "rolling", "enabled"]
  it("suggests the nearest name within a typo's reach", () => {
    expect(didYouMean("nmae", fields)).toBe("name")
    expect(didYouMean("maxUnavailabel", fields)).toBe("maxUnavailable")
    expect(didYouMean("enabld", fields)).toBe("enabled")
    expect(didYouMean("rollling", fields)).toBe("rolling")
  })
  it("ignores case", () => {
    expect(didYouMean("batchsize", fields)).toBe("batchSize")
  })
  it("takes a unique name the word is a prefix of", () => {
    expect(didYouMean("maxShare", fields)).toBe("maxSharePerWave")
  })
  it("suggests nothing for a word far from every name", () => {
    expect(didYouMean("zzz", fields)).toBeUndefined()
    expect(didYouMean("completely-different", fields)).toBeUndefined()
    expect(didYouMean("anything", [])).toBeUndefined()
  })
  it("does not turn short words into unrelated ones", () => {
    // one edit is the most a 3-letter word may be off
    expect(didYouMean("ab", ["xy"])).toBeUndefined()
    expect(didYouMean("aply", ["apply", "plan"])).toBe("apply")
  })
})
