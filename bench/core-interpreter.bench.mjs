// Interpreter overhead: the same zero-latency simulated fleet updated (a) by Sluice's interpreter
// (machine + write-ahead journal + health verification) and (b) by a naive loop that calls the
// adapter's apply and health directly. The ratio b/a is the cost of Sluice's safety per target.
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Layer } from "effect"
import { RolloutStore, makeFileStore, makeMemoryStore, startRollout } from "@sluice/core"
import { makeSimulatedFleet } from "@sluice/core/testing"
import { writeResult } from "./results.mjs"

const V1 = "registry.sluice.dev/agents/node-agent:1.0.0"
const V2 = "registry.sluice.dev/agents/node-agent:2.0.0"
const SIZE = Number(process.env.BENCH_FLEET ?? 2000)
const REPS = Number(process.env.BENCH_REPS ?? 5)

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
const planOf = (fleet) => () => {
  const ids = [...fleet.targets.keys()]
  const waves = []
  for (let i = 0; i < ids.length; i += Math.ceil(ids.length / 4)) {
    waves.push({
      index: waves.length,
      kind: "batch",
      targets: ids.slice(i, i + Math.ceil(ids.length / 4)),
      maxUnavailable: 32,
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

const naive = async () => {
  const fleet = makeSimulatedFleet({ size: SIZE, image: V1, seed: 1 })
  const start = performance.now()
  for (const t of fleet.targets.values()) {
    await Effect.runPromise(
      fleet.adapter.apply(t.target, { image: { raw: V2 } }, { rolloutId: "n", wave: 0, mode: "replace" })
    )
    await Effect.runPromise(fleet.adapter.health(t.target))
  }
  return performance.now() - start
}

const sluice = async (storeKind) => {
  const fleet = makeSimulatedFleet({ size: SIZE, image: V1, seed: 1 })
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
  if (result.outcome !== "completed") throw new Error(`bench rollout ended ${result.outcome}`)
  return ms
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const measure = async (f) => {
  const xs = []
  for (let i = 0; i < REPS; i++) xs.push(await f())
  return median(xs)
}

await naive()
const baseline = await measure(naive)
const memory = await measure(() => sluice("memory"))
const file = await measure(() => sluice("file"))
const rows = [
  {
    name: "naive loop (apply+health per target, no journal)",
    ms: baseline,
    perTargetUs: (baseline * 1000) / SIZE,
    ratio: 1
  },
  { name: "sluice, in-memory journal", ms: memory, perTargetUs: (memory * 1000) / SIZE, ratio: memory / baseline },
  {
    name: "sluice, file journal (fsync per append)",
    ms: file,
    perTargetUs: (file * 1000) / SIZE,
    ratio: file / baseline
  }
]
for (const r of rows)
  console.log(
    `${r.name.padEnd(52)} ${r.ms.toFixed(1).padStart(9)} ms  ${r.perTargetUs.toFixed(1).padStart(8)} µs/target  ×${r.ratio.toFixed(1)}`
  )
writeResult("core-interpreter", { fleet: SIZE, reps: REPS, baseline: "naive loop", rows })
