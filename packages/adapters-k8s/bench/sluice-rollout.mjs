// One Sluice DaemonSet rollout in a process of its own (so its peak RSS is its own), with the
// built packages as an embedding program runs them. Prints one JSON line: outcome, wall time, RSS.
// Usage: node sluice-rollout.mjs '{"kubeconfig":…,"spec":…,"rolloutId":…}'
import {
  configFromSpec,
  EventSink,
  makeMemoryStore,
  MemoryStoreLayer,
  parseRolloutSpec,
  planWaves,
  startRollout
} from "@sluice/core"
import { KubernetesAdapter } from "@sluice/adapters-k8s"
import { PolicyEngineLive } from "@sluice/policies"
import { Effect, Layer, Result } from "effect"

const { kubeconfig, spec: yaml, rolloutId } = JSON.parse(process.argv[2] ?? "{}")
const parsed = parseRolloutSpec(yaml, { source: "bench" })
if (Result.isFailure(parsed)) {
  console.error(parsed.failure.message)
  process.exit(64)
}
const spec = parsed.success
const started = performance.now()
// Phase times on stderr (BENCH_TRACE=1): where a rollout's wall time goes.
const trace = process.env.BENCH_TRACE === "1"
const counts = new Map()
/** Per wave: when it started and when it was healthy (epoch ms, for the bench's pod timeline). */
const waves = []
const phases = new Set(["rolloutStarted", "gateDecided", "waveStarted", "waveHealthy", "finished", "concluded"])
const layer = Layer.mergeAll(
  // The bench images are on a registry nobody answers at (kwok nodes pull nothing).
  KubernetesAdapter.layer({ kubeconfig, resolveDigests: false }),
  PolicyEngineLive.layer,
  MemoryStoreLayer(makeMemoryStore()),
  EventSink.fromCallback((e) => {
    if (e.type === "waveStarted") waves.push({ wave: e.wave, start: Date.now() })
    if (e.type === "waveHealthy") {
      const w = waves.find((x) => x.wave === e.wave)
      if (w !== undefined) w.healthy = Date.now()
    }
    if (trace && (e.type === "targetApplied" || (e.type === "healthChanged" && e.status === "healthy"))) {
      const key = `${e.type} ${e.wave}`
      const n = (counts.get(key) ?? 0) + 1
      counts.set(key, n)
      if (n === 1 || n % 50 === 0)
        process.stderr.write(`${((performance.now() - started) / 1000).toFixed(2)}s   ${key} #${n}\n`)
    }
    if (trace && phases.has(e.type))
      process.stderr.write(
        `${((performance.now() - started) / 1000).toFixed(2)}s ${e.type}${e.wave === undefined ? "" : ` ${e.wave}`}\n`
      )
  })
)
const result = await Effect.runPromise(
  startRollout({
    config: configFromSpec(spec, rolloutId),
    spec: yaml,
    plan: (inventory) => planWaves(spec, inventory)
  }).pipe(Effect.provide(layer))
)
const wallMs = performance.now() - started
process.stdout.write(
  `${JSON.stringify({ outcome: result.outcome, updated: result.updated.length, wallMs, maxRssMiB: process.resourceUsage().maxRSS / 1024, cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, waves })}\n`
)
