// Planner cost: planWaves over a large inventory with topology spreading (key `zone`, 3 values),
// against a baseline that does the least any planner must do (sort the ids and serialize them),
// measured in the same run. Issue 9's goal: 100k targets with a topology key in ≤ 300 ms.
import * as os from "node:os"
import { Result } from "effect"
import { parseRolloutSpec, planWaves } from "@sluice/core"
import { writeResult } from "./results.mjs"

const loadAtStart = os.loadavg()[0]

const SIZES = [10_000, 50_000, 100_000]
const REPS = Number(process.env.BENCH_REPS ?? 7)
const spec = Result.getOrThrow(
  parseRolloutSpec(`
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: bench }
spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy:
    canary:
      steps: [ { setWeight: 1 }, { setWeight: 10 } ]
      rolling: { batchSize: 25% }
  topology: { key: zone }
`)
)
const inventoryOf = (n) =>
  Array.from({ length: n }, (_, i) => ({
    target: {
      id: `node-${String((i * 7919) % n).padStart(6, "0")}`,
      name: `node-${i}`,
      labels: { zone: `zone-${i % 3}` }
    },
    image: "registry.sluice.dev/agents/node-agent:1.0.0"
  }))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/** Medians of `a` and `b`, run alternately (A B A B …) so a burst of load on this shared machine hits both. */
const timePair = (a, b) => {
  const xs = []
  const ys = []
  const once = (f) => {
    const t = performance.now()
    f()
    return performance.now() - t
  }
  for (let i = 0; i < REPS; i++) {
    xs.push(once(a))
    ys.push(once(b))
  }
  return [median(xs), median(ys)]
}

const rows = []
for (const n of SIZES) {
  const inventory = inventoryOf(n)
  const [baseline, plan] = timePair(
    () => JSON.stringify(inventory.map((i) => i.target.id).sort()),
    () => planWaves(spec, inventory)
  )
  const waves = planWaves(spec, inventory).waves.length
  rows.push({ targets: n, waves, baselineMs: baseline, planWavesMs: plan, ratio: plan / baseline })
  console.log(
    `${String(n).padStart(6)} targets, ${waves} waves: planWaves ${plan.toFixed(2)} ms, baseline (sort+serialize) ${baseline.toFixed(2)} ms, ×${(plan / baseline).toFixed(1)}`
  )
}
// The machines here are shared: the 1-minute load average says how busy this one was.
writeResult("planner", {
  baseline: "sort + JSON.stringify of the ids",
  loadAverage: { atStart: loadAtStart, atEnd: os.loadavg()[0] },
  rows
})
