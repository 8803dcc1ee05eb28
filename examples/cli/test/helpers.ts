import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"

const here = path.dirname(fileURLToPath(import.meta.url))
/** The built CLI: these tests run what users run (`npm test` builds first). */
export const MAIN = path.resolve(here, "..", "dist", "main.js")
export const fixture = (name: string) => path.join(here, "fixtures", name)
export const DEMO = (name: string) => path.resolve(here, "..", "demo", name)

export const V1 = "registry.sluice.dev/agents/node-agent:1.0.0"
export const V2 = "registry.sluice.dev/agents/node-agent:2.0.0"

/** Fast simulated latencies so a 30-node rollout takes about a second. */
export const FAST = ["--apply-latency", "5ms..15ms", "--ready-latency", "5ms..20ms"]

const created: string[] = []
// Registered while the importing test file is collected: runs after that file's tests.
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh store directory, removed after the test file. */
export const tmpStore = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-cli-test-"))
  created.push(dir)
  return dir
}

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const env = () => {
  const { SLUICE_STORE: _s, ...rest } = process.env
  return { ...rest, NO_COLOR: "1" }
}

/**
 * Runs the CLI to its end. `killAfterMs` kills a CLI that never ends (SIGKILL, code null), so a
 * test of a hang fails instead of leaving the process behind.
 */
export const sluice = (
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly killAfterMs?: number } = {}
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: env(),
      stdio: ["pipe", "pipe", "pipe"],
      ...(options.killAfterMs === undefined ? {} : { timeout: options.killAfterMs, killSignal: "SIGKILL" as const })
    })
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
    child.stdin.end(options.stdin ?? "")
  })

/** A running CLI process whose stdout lines can be awaited. */
export interface Running {
  readonly child: ChildProcess
  readonly lines: string[]
  readonly waitFor: (pred: (lines: ReadonlyArray<string>) => boolean, timeoutMs?: number) => Promise<void>
  readonly done: Promise<Ran>
}

export const start = (args: ReadonlyArray<string>): Running => {
  const child = spawn(process.execPath, [MAIN, ...args], { env: env(), stdio: ["ignore", "pipe", "pipe"] })
  const lines: string[] = []
  let stdout = ""
  let stderr = ""
  let partial = ""
  const waiters = new Set<() => void>()
  child.stdout!.on("data", (d: Buffer) => {
    const text = d.toString()
    stdout += text
    partial += text
    const parts = partial.split("\n")
    partial = parts.pop() ?? ""
    lines.push(...parts)
    for (const w of [...waiters]) w()
  })
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString()
  })
  const done = new Promise<Ran>((resolve) => {
    child.on("close", (code) => {
      for (const w of [...waiters]) w()
      resolve({ code, stdout, stderr })
    })
  })
  const waitFor = (pred: (lines: ReadonlyArray<string>) => boolean, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred(lines)) {
          waiters.delete(check)
          clearTimeout(timer)
          resolve()
        } else if (child.exitCode !== null || child.signalCode !== null) {
          waiters.delete(check)
          clearTimeout(timer)
          reject(new Error(`process ended before the condition held:\n${stdout}\n${stderr}`))
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`timed out waiting; output so far:\n${stdout}\n${stderr}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return { child, lines, waitFor, done }
}

export const events = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown })

export const countType = (lines: ReadonlyArray<string>, type: string) =>
  lines.filter((l) => l.includes(`"type":"${type}"`)).length

interface History {
  readonly image: string
  readonly via: "apply" | "rollback"
}

/** Per target: current image and every change, read from the persisted simulated fleet. */
export const fleet = (store: string) => {
  const file = path.join(store, ".simulated-fleet", "fleet.ndjson")
  const lines = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map(
      (l) =>
        JSON.parse(l) as {
          kind: string
          id?: string
          image: string
          phase?: string
          size?: number
          history?: History[]
          pushed?: History[]
        }
    )
  const header = lines[0]!
  const targets = new Map<string, { image: string; phase: string; history: History[] }>()
  for (const l of lines.slice(1)) {
    const before = targets.get(l.id!)
    targets.set(l.id!, {
      image: l.image,
      phase: l.phase ?? "running",
      history: [...(l.kind === "target" ? [] : (before?.history ?? [])), ...(l.history ?? []), ...(l.pushed ?? [])]
    })
  }
  return { size: header.size!, initialImage: header.image, targets }
}

export const imageOf = (f: ReturnType<typeof fleet>, id: string) => f.targets.get(id)?.image ?? f.initialImage
