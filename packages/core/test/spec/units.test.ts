import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { countOrPercent, resolveDown, resolveUp } from "../../src/spec/CountOrPercent.js"
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../../src/spec/Duration.js"
import { evaluateSuccessCondition, parseSuccessCondition } from "../../src/spec/SuccessCondition.js"
import { numRuns } from "./arbitraries.js"

describe("durations", () => {
  it("parses Go-style durations to milliseconds", () => {
    expect(parseDuration("90s")).toBe(90_000)
    expect(parseDuration("10m")).toBe(600_000)
    expect(parseDuration("1h30m")).toBe(5_400_000)
    expect(parseDuration("500ms")).toBe(500)
    expect(parseDuration("1.5s")).toBe(1500)
    expect(parseDuration("0.1s")).toBe(100)
    expect(parseDuration("2h45m30s250ms")).toBe(9_930_250)
    expect(parseDuration("0")).toBe(0)
    expect(parseDuration("0s")).toBe(0)
  })

  it("rejects other forms", () => {
    for (const bad of ["", "10", "-5s", "5 s", "1d", "10 minutes", "s", "1.5ms", "1h 30m", "PT5M", "5us", "1e3s"]) {
      expect(parseDuration(bad), bad).toBeUndefined()
    }
    expect(parseDuration(`${MAX_DURATION_MS + 1}ms`)).toBeUndefined()
  })

  it("formats the shortest form", () => {
    expect(formatDuration(0)).toBe("0s")
    expect(formatDuration(90_000)).toBe("1m30s")
    expect(formatDuration(5_400_500)).toBe("1h30m500ms")
  })

  test.prop([fc.integer({ min: 0, max: MAX_DURATION_MS })], { numRuns })("format → parse round-trips", (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms)
  })
})

describe("count or percent", () => {
  const S = countOrPercent({ minCount: 1, minPercent: 1 })
  const decode = Schema.decodeUnknownResult(S)

  it("decodes counts and percentages", () => {
    expect(decode(5)).toEqual(Result.succeed({ kind: "count", value: 5 }))
    expect(decode("25%")).toEqual(Result.succeed({ kind: "percent", value: 25 }))
    expect(Schema.encodeSync(S)({ kind: "percent", value: 25 })).toBe("25%")
    expect(Schema.encodeSync(S)({ kind: "count", value: 3 })).toBe(3)
  })

  it("rejects out-of-range and malformed values", () => {
    for (const bad of [0, -1, 1.5, "0%", "101%", "5", "25 %", "%", true, null]) {
      expect(Result.isFailure(decode(bad)), String(bad)).toBe(true)
    }
  })

  it("rounds percent up for sizes and down for maxUnavailable", () => {
    expect(resolveUp({ kind: "percent", value: 25 }, 10)).toBe(3)
    expect(resolveDown({ kind: "percent", value: 25 }, 10)).toBe(2)
    expect(resolveUp({ kind: "percent", value: 1 }, 500)).toBe(5)
    expect(resolveUp({ kind: "count", value: 7 }, 3)).toBe(7)
  })
})

describe("success conditions", () => {
  it("parses and evaluates comparisons", () => {
    const c = parseSuccessCondition("result < 0.05")!
    expect(evaluateSuccessCondition(c, 0.01)).toBe(true)
    expect(evaluateSuccessCondition(c, 0.05)).toBe(false)
    const range = parseSuccessCondition("result >= 0.9 && result <= 1 || result == -1")!
    expect(evaluateSuccessCondition(range, 0.95)).toBe(true)
    expect(evaluateSuccessCondition(range, -1)).toBe(true)
    expect(evaluateSuccessCondition(range, 2)).toBe(false)
  })

  it("rejects anything else", () => {
    for (const bad of ["", "res < 1", "result <", "result < x", "result << 1", "1 < result", "result < 1 &&"]) {
      expect(parseSuccessCondition(bad), bad).toBeUndefined()
    }
  })
})
