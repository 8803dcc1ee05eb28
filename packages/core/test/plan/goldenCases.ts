// Seeded spec + inventory cases for the planner's golden test (golden.test.ts). Self-contained on
// purpose (its own PRNG, no fast-check, no src imports): the cases must stay the same bytes
// whatever else changes, so that the digest of their plans only moves when the plans do.

export interface GoldenCase {
  readonly doc: Record<string, unknown>
  readonly inventory: ReadonlyArray<{
    readonly target: { id: string; name: string; labels: Record<string, string>; ordinal?: number }
    readonly image: string
    readonly configHash?: string
  }>
}

const DESIRED = "r.io/agent:2"

const STRATEGIES: ReadonlyArray<Record<string, unknown>> = [
  { rolling: { batchSize: "25%", maxUnavailable: "10%", pauseBetweenWaves: "30s" } },
  { rolling: { batchSize: 3, maxSurge: "15%" } },
  { rolling: { batchSize: "1%" } },
  {
    canary: {
      steps: [{ setWeight: 1 }, { pause: { duration: "5s" } }, { setWeight: 10 }, { pause: {} }, { setWeight: 50 }],
      rolling: { batchSize: "25%", maxUnavailable: "10%" }
    }
  },
  { canary: { steps: [{ setWeight: 5 }, { setWeight: 40 }] } },
  { blueGreen: { previewSize: "10%", autoPromote: true, autoPromotionSeconds: 30 } },
  { blueGreen: { previewSize: 2 } },
  { recreate: {} },
  { partition: { partitions: [8, 4, 1] } },
  { partition: { steps: ["80%", "50%"], pauseBetweenWaves: "1m" } }
]

const TOPOLOGIES: ReadonlyArray<unknown> = [
  undefined,
  "zone",
  { key: "zone", maxSharePerWave: "30%" },
  { key: "zone", maxSharePerWave: 2 },
  { key: "zone", order: "sequential" },
  { key: "zone", order: "sequential", values: ["zone-c", "zone-a"], maxSharePerWave: "50%" }
]

const ZONES = ["zone-a", "zone-b", "zone-c", "eu-west-1b", "", "__proto__", "constructor", "z\u00e9"]

/** A small LCG: the same numbers on every platform and Node version. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

function inventoryOf(size: number, zones: number, seed: number, withConfig: boolean): GoldenCase["inventory"] {
  const rnd = prng(seed)
  const out: Array<GoldenCase["inventory"][number]> = []
  for (let i = 0; i < size; i++) {
    // Ids drawn from 1.2 × size: some repeat (duplicate targets, planned once).
    const num = Math.floor(rnd() * size * 1.2)
    const unlabelled = rnd() < 0.1
    const zone = ZONES[Math.floor(rnd() * zones)]!
    const updated = rnd() < 0.15
    const image = updated ? DESIRED : rnd() < 0.5 ? "r.io/agent:1" : rnd() < 0.5 ? "not an image!" : "agent"
    out.push({
      target: {
        id: `node-${String(num).padStart(5, "0")}`,
        name: `n${i}`,
        labels: unlabelled ? {} : { zone, pool: rnd() < 0.5 ? "general" : "gpu" },
        ...(rnd() < 0.9 ? { ordinal: num } : {})
      },
      image,
      ...(withConfig && rnd() < 0.5 ? { configHash: rnd() < 0.5 ? "stale" : "x" } : {})
    })
  }
  return out
}

/** Every strategy × topology (the spec rejects sequential with blue-green and partition) × a few fleets. */
export function goldenCases(): Array<GoldenCase> {
  const cases: Array<GoldenCase> = []
  let seed = 1
  for (const strategy of STRATEGIES) {
    for (const topology of TOPOLOGIES) {
      const sequential = typeof topology === "object" && (topology as { order?: string }).order === "sequential"
      if (sequential && ("blueGreen" in strategy || "partition" in strategy)) continue
      for (const [size, zones] of [
        [0, 1],
        [1, 1],
        [9, 3],
        [60, 5],
        [700, 8]
      ] as const) {
        const withConfig = seed % 3 === 0
        const doc = {
          apiVersion: "sluice.dev/v1alpha1",
          kind: "Rollout",
          metadata: { name: "agent" },
          spec: {
            target: { adapter: "simulated" },
            artifact: { image: DESIRED, ...(withConfig ? { config: { env: { LEVEL: "debug" } } } : {}) },
            strategy,
            ...(topology !== undefined ? { topology } : {}),
            gates: { manualApproval: { before: seed % 4 === 0 ? [0, 2, 40] : seed % 4 === 1 ? "first" : "none" } }
          }
        }
        cases.push({ doc, inventory: inventoryOf(size, zones, seed, withConfig) })
        seed++
      }
    }
  }
  return cases
}
