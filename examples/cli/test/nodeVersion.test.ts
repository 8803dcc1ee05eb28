import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { nodeVersionProblem } from "../src/nodeVersion.js"
import { MAIN, tmpStore } from "./helpers.js"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const SPECS = path.join(ROOT, "examples", "specs")

const run = (command: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

/** A user's shell: no node_modules/.bin on PATH (so `node` is whatever the machine has). */
const userEnv = (): NodeJS.ProcessEnv => {
  const { SLUICE_STORE: _s, npm_config_prefix: _p, ...rest } = process.env
  const PATH = (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((p) => !p.includes("node_modules"))
    .join(path.delimiter)
  return { ...rest, PATH, NO_COLOR: "1" }
}

describe("the Node version sluice runs on", () => {
  it("is checked against engines (>= 22.19)", () => {
    expect(nodeVersionProblem("20.11.0", "/usr/bin/node")).toContain("needs Node >= 22.19")
    expect(nodeVersionProblem("v22.18.1", "/usr/bin/node")).toContain("this is Node 22.18.1 (/usr/bin/node)")
    expect(nodeVersionProblem("22.19.0", "/x")).toBeUndefined()
    expect(nodeVersionProblem("23.0.0", "/x")).toBeUndefined()
    expect(nodeVersionProblem("24.21.0", "/x")).toBeUndefined()
  })

  it("an older Node gets one clear line and exit 1 before anything else is loaded", async () => {
    const fake = `data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.11.0"}})`
    const r = await run(process.execPath, ["--import", fake, MAIN, "plan", "-f", "canary.yaml"])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("error: sluice needs Node >= 22.19")
    expect(r.stderr).toContain("this is Node 20.11.0")
    expect(r.stderr).not.toMatch(/^\s+at /m) // no stack trace
  })
})

describe("sluice as a command after npm install", () => {
  for (const [name, command, args] of [
    ["npx sluice", "npx", ["sluice"]],
    ["npm run sluice --", "npm", ["run", "--silent", "sluice", "--"]]
  ] as const) {
    it(`${name} works from a subdirectory, with paths relative to it, on the Node it installs`, async () => {
      const r = await run(
        command,
        [...args, "plan", "-f", "canary.yaml", "--fleet-size", "10", "--store", tmpStore()],
        {
          cwd: SPECS,
          env: userEnv()
        }
      )
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("strategy canary: 10 target(s) to update")
    })
  }
})
