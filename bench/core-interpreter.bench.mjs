// Engine overhead at fleet scale: a zero-latency simulated fleet of 1,000 / 10,000 / 100,000 targets
// rolled in 10% waves (a) by Sluice's interpreter (machine + write-ahead journal + health
// verification), with the in-memory and the file journal, and (b) by a naive loop that calls the
// adapter's apply and health for one target after another in the same process. Each case runs in
// its own child process, so its peak RSS is its own. Then a 100,000-target rollout on the file
// journal is killed (SIGKILL) half way and resumed: the time from `resumeRollout` to the first
// target it acts on. Ratios are against the naive loop of the same size, measured in the same run.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { makeFileStore, makeMemoryStore, RolloutStore, resumeRollout, startRollout } from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { writeResult } from "./results.mjs"

const V1 = "registry.sluice.dev/agents/node-agent:1.0.0"
const V2 = "registry.sluice.dev/agents/node-agent:2.0.0"
const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number)
const REPS = Number(process.env.BENCH_REPS ?? 3)
const self = import.meta.filename

const config = (id) => ({
  rolloutId: id,
  adapter: "simulated",
  selector: {},
  artifact: { image: { raw: V2, registry: "registry.sluice.dev", repository: "agents/node-agent", tag: "2.0.0" } },
  health: { progressDeadlineMs: 600_000, minReadyMs: 0, pollIntervalMs: 1 },
  rollback: { onFailure: true, onAbort: true },
  gates: { policy: false, scan: false, analysis: [] },
  operations: { timeoutMs: 60_000, retries: 3, retryBaseMs: 1, concurrency: 32 }
})

/** Ten waves of 10%, each allowed to take all of its targets down at once (a rolling 10% wave). */
const planOf = (fleet) => () => {
  const ids = [...fleet.targets.keys()]
  const size = Math.ceil(ids.length / 10)
  const waves = []
  for (let i = 0; i < ids.length; i += size) {
    const targets = ids.slice(i, i + size)
    waves.push({
      index: waves.length,
      kind: "batch",
      mode: "replace",
      targets,
      maxUnavailable: targets.length,
      maxSurge: 0,
      analysis: [],
      approvalBefore: false
    })
  }
  return {
    strategy: "rolling",
    targets: [...fleet.targets.values()].map((t) => t.target),
    waves,
    upToDate: [],
    fingerprint: "bench"
  }
}

const naive = async (size) => {
  const fleet = makeSimulatedFleet({ size, image: V1, seed: 1 })
  const start = performance.now()
  await Effect.runPromise(
    Effect.forEach(
      [...fleet.targets.values()],
      (t) =>
        fleet.adapter
          .apply(t.target, { image: { raw: V2 } }, { rolloutId: "n", wave: 0, mode: "replace" })
          .pipe(Effect.andThen(fleet.adapter.health(t.target))),
      { discard: true }
    )
  )
  return performance.now() - start
}

const sluice = async (size, storeKind) => {
  const fleet = makeSimulatedFleet({ size, image: V1, seed: 1 })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-"))
  const store = storeKind === "file" ? makeFileStore(dir) : makeMemoryStore()
  const start = performance.now()
  const result = await Effect.runPromise(
    startRollout({ config: config(`b-${storeKind}`), spec: {}, plan: planOf(fleet) }).pipe(
      Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, store)))
    )
  )
  const ms = performance.now() - start
  fs.rmSync(dir, { recursive: true, force: true })
  if (result.outcome !== "completed" || result.updated.length !== size)
    throw new Error(`bench rollout ended ${result.outcome} with ${result.updated.length}/${size} updated`)
  return ms
}

/** Runs a file-journal rollout and kills this process (SIGKILL) once half the fleet is updated. */
const crashHalfWay = async (size, dir) => {
  let applied = 0
  const fleet = makeSimulatedFleet({
    size,
    image: V1,
    seed: 1,
    onChange: (t) => {
      if (t.phase === "running" && t.image === V2 && ++applied === Math.floor(size / 2))
        process.kill(process.pid, "SIGKILL")
    }
  })
  await Effect.runPromise(
    startRollout({ config: config("crashed"), spec: {}, plan: planOf(fleet) }).pipe(
      Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeFileStore(dir))))
    )
  )
  throw new Error("the rollout finished before the crash point")
}

/** Resumes the crashed rollout; the time until it acts on its first target again. */
const resume = async (size, dir) => {
  let start = 0
  let running
  const first = new Promise((resolve) => {
    running = resolve
  })
  // The fleet of this process starts on v1: the journal, not the fleet, decides what resume does.
  const fleet = makeSimulatedFleet({ size, image: V1, seed: 1, onChange: () => running(performance.now() - start) })
  start = performance.now()
  const done = Effect.runPromise(
    resumeRollout("crashed").pipe(
      Effect.provide(Layer.mergeAll(fleet.layer, Layer.succeed(RolloutStore, makeFileStore(dir))))
    )
  )
  const ms = await first
  const result = await done
  if (result.outcome !== "completed") throw new Error(`resumed rollout ended ${result.outcome}`)
  return ms
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const child = async (args) => {
  const [kind, sizeArg, dir] = args
  const size = Number(sizeArg)
  let ms
  if (kind === "crash") await crashHalfWay(size, dir)
  else if (kind === "resume") ms = await resume(size, dir)
  else if (kind.startsWith("once-")) {
    // One rollout and nothing else in this process: its peak RSS is that rollout's.
    const what = kind.slice("once-".length)
    ms = what === "naive" ? await naive(size) : await sluice(size, what)
  } else {
    const run = () => (kind === "naive" ? naive(size) : sluice(size, kind))
    await run() // warm-up
    const xs = []
    for (let i = 0; i < REPS; i++) xs.push(await run())
    ms = median(xs)
  }
  process.stdout.write(`${JSON.stringify({ ms, rssMiB: process.resourceUsage().maxRSS / 1024 })}\n`)
}

/**
 * The V8 setting the engine process runs with, as the `sluice` CLI sets it for itself at startup
 * (`examples/cli/src/main.ts`). With V8's defaults, about one run in two decides, at a mark-compact
 * that overlaps the first wave, that Effect's fiber stacks (`FiberImpl._stack = []`) are long-lived:
 * from then on every fiber's stack is allocated in the old generation and keeps what it refers to
 * alive through scavenges, and the old generation fills with ~240 MiB of garbage before the next
 * mark-compact (100,000 targets: ~340 MiB or ~580 MiB peak RSS, at random). `BENCH_V8_DEFAULTS=1`
 * measures with V8's defaults; the largest size's in-memory rollout is also measured that way below.
 */
const ENGINE_FLAGS = process.env.BENCH_V8_DEFAULTS === "1" ? [] : ["--no-allocation-site-pretenuring"]

const spawnCase = (...args) => spawnCaseWith(ENGINE_FLAGS, ...args)

const spawnCaseWith = (flags, ...args) => {
  const r = spawnSync(process.execPath, [...flags, self, "--case", ...args.map(String)], {
    encoding: "utf8",
    env: process.env,
    maxBuffer: 1 << 24
  })
  const line = r.stdout.trim().split("\n").pop()
  if (r.status !== 0 || line === undefined || line === "") {
    if (args[0] === "crash" && r.signal === "SIGKILL") return undefined
    throw new Error(`bench case ${args.join(" ")} failed (exit ${r.status ?? r.signal}): ${r.stderr}`)
  }
  return JSON.parse(line)
}

if (process.argv[2] === "--case") {
  await child(process.argv.slice(3))
} else {
  const rows = []
  const bySize = {}
  for (const size of SIZES) {
    // Times: the median of REPS runs after a warm-up; peak RSS: a process running one rollout.
    const measure = (kind) => ({ ms: spawnCase(kind, size).ms, rssMiB: spawnCase(`once-${kind}`, size).rssMiB })
    const base = measure("naive")
    const memory = measure("memory")
    const file = measure("file")
    bySize[size] = { memory: memory.ms, file: file.ms }
    for (const [name, r] of [
      ["naive loop (apply+health per target, no journal)", base],
      ["sluice, in-memory journal", memory],
      ["sluice, file journal (group commit)", file]
    ]) {
      const row = {
        targets: size,
        name,
        ms: r.ms,
        perTargetUs: (r.ms * 1000) / size,
        ratio: r.ms / base.ms,
        peakRssMiB: r.rssMiB
      }
      rows.push(row)
      console.log(
        `${String(size).padStart(7)}  ${name.padEnd(50)} ${row.ms.toFixed(0).padStart(7)} ms ${row.perTargetUs.toFixed(1).padStart(7)} µs/target  ×${row.ratio.toFixed(2).padStart(5)}  ${row.peakRssMiB.toFixed(0).padStart(5)} MiB`
      )
    }
  }
  const largest = Math.max(...SIZES)
  // The same rollout with V8's default flags, a few times: its peak RSS is bimodal (see ENGINE_FLAGS).
  const defaultsRss = Array.from({ length: Number(process.env.BENCH_DEFAULTS_RUNS ?? 5) }, () =>
    Math.round(spawnCaseWith([], "once-memory", largest).rssMiB)
  )
  console.log(
    `${String(largest).padStart(7)}  sluice, in-memory journal, V8 defaults: peak RSS of ${defaultsRss.length} runs ${defaultsRss.join(", ")} MiB`
  )
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-bench-resume-"))
  spawnCase("crash", largest, dir)
  const journalMiB = fs.statSync(path.join(dir, "crashed", "journal.ndjson")).size / 2 ** 20
  const resumed = spawnCase("resume", largest, dir)
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(
    `resume of a ${largest}-target rollout killed half way (journal ${journalMiB.toFixed(1)} MiB): running again after ${resumed.ms.toFixed(0)} ms (peak RSS ${resumed.rssMiB.toFixed(0)} MiB)`
  )
  const scaling = {}
  if (bySize[10000] !== undefined && bySize[100000] !== undefined) {
    scaling.memory = bySize[100000].memory / bySize[10000].memory
    scaling.file = bySize[100000].file / bySize[10000].file
    console.log(
      `time(100k)/time(10k): in-memory ×${scaling.memory.toFixed(1)}, file ×${scaling.file.toFixed(1)} (linear = ×10)`
    )
  }
  writeResult("core-interpreter", {
    reps: REPS,
    engineFlags: ENGINE_FLAGS,
    baseline: "naive loop of the same size",
    v8DefaultsInMemoryPeakRssMiB: { targets: largest, runs: defaultsRss },
    rows,
    resume: { targets: largest, ms: resumed.ms, journalMiB, peakRssMiB: resumed.rssMiB },
    scaling
  })
}
