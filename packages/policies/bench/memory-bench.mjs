import { Effect } from "effect"
import { builtinBundleDir, loadBundles, makePolicyEngine, PolicyDecisionLog } from "../lib/index.js"
import { request } from "./typical-input.mjs"

const N = Number(process.argv[2] ?? process.env.BENCH_EVALS ?? 1_000_000)
const CHECKPOINTS = 10
const gc = globalThis.gc ?? (() => {})
const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`

const program = Effect.gen(function* () {
  const loaded = yield* loadBundles([{ path: builtinBundleDir, name: "sluice" }])
  const engine = yield* makePolicyEngine(loaded)
  const stats = engine.evaluator.stats
  const reqs = [request("fleet/a"), request("fleet/b"), request("fleet/c")]
  let allowed = 0
  const run = (n, offset) =>
    Effect.gen(function* () {
      for (let i = 0; i < n; i++) {
        const d = yield* engine.evaluate(reqs[(offset + i) % reqs.length])
        if (d.allow) allowed++
      }
    })
  const snapshot = (label, done) => {
    gc()
    const m = process.memoryUsage()
    const s = stats()
    const row = {
      label,
      evaluations: done,
      heapUsed: m.heapUsed,
      rss: m.rss,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      wasmMemory: s.wasmMemoryBytes,
      instances: s.instancesCreated
    }
    console.log(
      `${label.padEnd(8)} evals=${String(done).padStart(8)} heapUsed=${mib(m.heapUsed)} rss=${mib(m.rss)} external=${mib(m.external)} wasm=${mib(s.wasmMemoryBytes)} instances=${s.instancesCreated}`
    )
    return row
  }
  yield* run(10_000, 0) // warm-up
  const rows = [snapshot("start", 0)]
  const started = performance.now()
  const step = Math.ceil(N / CHECKPOINTS)
  for (let done = 0; done < N; ) {
    const n = Math.min(step, N - done)
    yield* run(n, done)
    done += n
    rows.push(snapshot(done === N ? "end" : "check", done))
  }
  const seconds = (performance.now() - started) / 1000
  const first = rows[0]
  const last = rows.at(-1)
  console.log(
    `\n${N} evaluations in ${seconds.toFixed(1)}s (${Math.round(N / seconds)}/s), all allowed: ${allowed === N + 10_000}`
  )
  console.log(
    `heapUsed ${mib(first.heapUsed)} -> ${mib(last.heapUsed)} (${((last.heapUsed - first.heapUsed) / 1024) | 0} KiB), rss ${mib(first.rss)} -> ${mib(last.rss)}, wasm ${mib(first.wasmMemory)} -> ${mib(last.wasmMemory)}, instances ${last.instances}`
  )
  return rows
})

await Effect.runPromise(program.pipe(Effect.provide(PolicyDecisionLog.layer)))
