import { describe, expect, it } from "vitest"
import { main } from "../src/cli.js"
import { captureIo } from "../src/io.js"
import { fitLine } from "../src/render/renderers.js"
import { stripAnsi } from "../src/render/style.js"
import { FAST, fixture, tmpStore } from "./helpers.js"

const ESC = String.fromCharCode(27)

describe("the live view on a terminal", () => {
  it("shows the next wave with an ETA, and keeps targets that are done out of its recent list", async () => {
    const out = captureIo({ tty: true })
    const code = await main(
      [
        "apply",
        "-f",
        fixture("rolling.yaml"),
        "--id",
        "live",
        "--store",
        tmpStore(),
        "--fleet-size",
        "24",
        "--set",
        "spec.strategy.rolling.maxUnavailable=1",
        ...FAST
      ],
      out.io
    )
    expect(code).toBe(0)
    // The frames the block was redrawn as, each after the escape that clears the previous one.
    const frames = out.stdout.split(`${ESC}[J`).map(stripAnsi)
    expect(frames.some((f) => /next: wave 1 \(2\/4, batch\)/.test(f))).toBe(true)
    expect(frames.some((f) => /next: wave \d \(\d\/4, batch\) · ETA ~\d/.test(f))).toBe(true)
    // The last frame, drawn when every target is updated, lists none of them as updating.
    const last = frames.at(-1)!.split("✓ completed")[0]!
    expect(last).toContain("24/24")
    expect(last).not.toMatch(/· node-\d+ updating/)
    // While a wave runs, the recent list does show the target in flight.
    expect(frames.some((f) => /· node-\d+ updating/.test(f))).toBe(true)
  })

  it("cuts an overlong line at a word boundary, never inside a word", () => {
    const line = "  · node-017 failed: health probe exec failed with exit code 1 after 3 attempts"
    const fitted = fitLine(line, 40)
    expect(fitted.length).toBeLessThanOrEqual(40)
    expect(fitted.endsWith("…")).toBe(true)
    const kept = fitted.slice(0, -1)
    expect(line.startsWith(kept)).toBe(true)
    expect(line[kept.length]).toBe(" ") // the next character of the original is a space: no word was cut
    expect(fitLine("short", 40)).toBe("short")
    expect(fitLine(`  ${"x".repeat(60)}`, 20)).toBe(`  ${"x".repeat(17)}…`) // one word wider than the line
  })
})
