import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { makeFileStore } from "../../src/store/FileStore.js"
import { header, run, tmp } from "./support/store.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const PROCESSES = 8
const TRIALS = 15

const waitFor = async (pred: () => boolean, what: string, ms = 60_000) => {
  const deadline = Date.now() + ms
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe("the file store's lease across processes", () => {
  it(`${PROCESSES} processes acquiring the same rollout at once, ${TRIALS} times: exactly one gets it each time`, async () => {
    const root = tmp()
    const sync = tmp()
    const store = makeFileStore(root)
    for (let k = 0; k < TRIALS; k++) await run(store.create(header(`r-${k}`)))
    const names = Array.from({ length: PROCESSES }, (_, i) => `p${i}`)
    const children = names.map((name) => {
      const child = spawn(
        process.execPath,
        [
          "--import",
          path.join(here, "support", "source.mjs"),
          path.join(here, "support", "lockChild.mjs"),
          root,
          sync,
          String(TRIALS),
          name
        ],
        { stdio: ["ignore", "ignore", "pipe"] }
      )
      let stderr = ""
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString()
      })
      const done = new Promise<{ code: number | null; stderr: string }>((resolve) =>
        child.on("close", (code) => resolve({ code, stderr }))
      )
      return { child, done }
    })
    try {
      await waitFor(() => names.every((n) => fs.existsSync(path.join(sync, `ready-${n}`))), "the processes to start")
      for (let k = 0; k < TRIALS; k++) {
        fs.writeFileSync(path.join(sync, `go-${k}`), "")
        const result = (n: string) => path.join(sync, `res-${k}-${n}`)
        await waitFor(() => names.every((n) => fs.existsSync(result(n))), `trial ${k}`)
        const outcomes = names.map((n) => fs.readFileSync(result(n), "utf8"))
        const winners = names.filter((_, i) => outcomes[i] === "won")
        expect(winners, `trial ${k}: ${outcomes.join(", ")}`).toHaveLength(1)
        // Everyone else was told who holds it.
        for (const [i, o] of outcomes.entries()) if (names[i] !== winners[0]) expect(o).toBe(`locked:${winners[0]}`)
        expect(await run(store.owner(`r-${k}`))).toBe(winners[0])
      }
      fs.writeFileSync(path.join(sync, "end"), "")
      for (const { done } of children) {
        const { code, stderr } = await done
        expect(code, stderr).toBe(0)
      }
    } finally {
      for (const { child } of children) if (child.exitCode === null) child.kill("SIGKILL")
    }
  }, 120_000)
})
