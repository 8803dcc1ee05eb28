import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { main } from "../src/cli.js"
import { captureIo } from "../src/io.js"
import { FAST, fixture, tmpStore } from "./helpers.js"

const ESC = String.fromCharCode(27)
const DEMO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "demo.js")

describe("the live view and the demo", () => {
  it("draws the live progress block on a terminal and ends with the summary", async () => {
    const out = captureIo({ tty: true })
    const code = await main(
      ["apply", "-f", fixture("rolling.yaml"), "--id", "tty", "--store", tmpStore(), "--fleet-size", "20", ...FAST],
      out.io
    )
    expect(code).toBe(0)
    expect(out.stdout).toContain("\x1b[?25l")
    expect(out.stdout).toMatch(new RegExp(`${ESC}\\[\\d+F${ESC}\\[J`))
    expect(out.stdout).toContain("zone-a")
    expect(out.stdout).toContain("completed")
    expect(out.stdout.endsWith("\n")).toBe(true)
    expect(out.stdout).toContain("\x1b[?25h")
  })

  it("npm run demo: v2 completes, then the bad 2.1.0 fails in its second wave and rolls back", async () => {
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const env = { ...process.env, NO_COLOR: "1", SLUICE_DEMO_STORE: tmpStore() }
      const child = spawn(process.execPath, [DEMO], { env })
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString()
      })
      child.stderr.on("data", (d: Buffer) => {
        out += d.toString()
      })
      child.on("close", (code) => resolve({ code, out }))
    })
    expect(r.code, r.out).toBe(0)
    expect(r.out).toContain("✓ completed  node-agent-v2")
    expect(r.out).toMatch(/failed in wave 1 \(2\/\d, canary\): crash loop/)
    expect(r.out).toContain("✗ rolled back  node-agent-v2-1")
    expect(r.out).toContain("fleet: 500 on 2.0.0")
  }, 180_000)
})
