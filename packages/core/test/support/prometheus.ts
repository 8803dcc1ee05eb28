import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./net.js"

/** Debian's `prometheus`, when installed; under CI=true a missing one is an error, never a skip. */
export const prometheusBinary = (suite: string): string | undefined => {
  const binary = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).stdout.trim()
  if (binary !== "") return binary
  const message = "prometheus is not installed. Provision it with: bash scripts/setup.sh (apt-get install prometheus)"
  if (process.env.CI === "true") throw new Error(`CI=true and ${message}`)
  console.warn(`\n!!! SKIPPING ${suite}: ${message}\n`)
  return undefined
}

export interface RunningPrometheus {
  readonly address: string
  /** The value of a one-sample instant query, or undefined (no data yet, or an error). */
  readonly query: (promql: string) => Promise<number | undefined>
  readonly stop: () => void
}

/** Starts a real Prometheus scraping the given loopback targets every second. */
export const startPrometheus = async (binary: string, targets: ReadonlyArray<string>): Promise<RunningPrometheus> => {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-prom-"))
  fs.writeFileSync(
    path.join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: under-test\n    static_configs: [ { targets: ${JSON.stringify(targets)} } ]\n`
  )
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ],
    { stdio: "ignore" }
  )
  const address = `http://127.0.0.1:${port}`
  const query = async (promql: string) => {
    try {
      const response = await fetch(`${address}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = (await response.json()) as { data?: { result?: Array<{ value: [number, string] }> } }
      const result = body.data?.result ?? []
      return result.length === 1 ? Number(result[0]!.value[1]) : undefined
    } catch {
      return undefined
    }
  }
  return {
    address,
    query,
    stop: () => {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Polls until `f` returns a value that `done` accepts (Prometheus scrapes every second). */
export const eventually = async <A>(f: () => Promise<A>, done: (a: A) => boolean, ms = 60_000): Promise<A> => {
  const deadline = Date.now() + ms
  let last = await f()
  while (!done(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200))
    last = await f()
  }
  return last
}
