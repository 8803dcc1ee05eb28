// Spec decoding cost: parseRolloutSpec (YAML → value, duplicate keys, nesting and alias checks,
// schema decode, a line:column for every problem) on large Rollout documents, against a baseline
// measured in the same run: the `yaml` package's own parse of the same text into a JS value
// (`parse(text, { uniqueKeys: false })`: its default duplicate-key check compares each key with
// every earlier key of its mapping, which is what made large specs take seconds).
// Issue 9's goal: a 1 MB spec decoded or rejected in under 1 s, every problem located.
import * as os from "node:os"
import { Result } from "effect"
import { parse } from "yaml"
import { parseRolloutSpec } from "@sluice/core"
import { writeResult } from "./results.mjs"

const loadAtStart = os.loadavg()[0]

const REPS = Number(process.env.BENCH_REPS ?? 5)

/**
 * A Rollout document of about `bytes` bytes: its size is in `metadata.labels`. With `invalid`,
 * every 4th label is bad (half a bad key, half a bad value): one problem each.
 */
function specText(bytes, invalid) {
  const head = "apiVersion: sluice.dev/v1alpha1\nkind: Rollout\nmetadata:\n  name: node-agent\n  labels:\n"
  const tail = `spec:
  target: { adapter: simulated, selector: {} }
  artifact: { image: registry.sluice.dev/agents/node-agent:2.0.0 }
  strategy:
    canary:
      steps: [ { setWeight: 1 }, { pause: { duration: 5s } }, { setWeight: 10 } ]
      rolling: { batchSize: 25%, maxUnavailable: 10% }
  topology: { key: zone }
`
  const lines = []
  let size = head.length + tail.length
  for (let i = 0; size < bytes; i++) {
    const bad = invalid && i % 4 === 0
    const line = !bad ? `    l${i}: v${i}\n` : i % 8 === 0 ? `    "bad key ${i}": v\n` : `    l${i}: "bad value ${i}"\n`
    lines.push(line)
    size += line.length
  }
  return { text: head + lines.join("") + tail, labels: lines.length }
}

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

const CASES = [
  { name: "68 KB valid", bytes: 68 * 1024, invalid: false },
  { name: "250 KB valid", bytes: 250 * 1024, invalid: false },
  { name: "1 MB valid", bytes: 1024 * 1024, invalid: false },
  { name: "1 MB invalid", bytes: 1024 * 1024, invalid: true }
]

const rows = []
for (const c of CASES) {
  const { text, labels } = specText(c.bytes, c.invalid)
  // One untimed run each: warms the JIT and checks the outcome.
  const result = parseRolloutSpec(text)
  if (Result.isSuccess(result) === c.invalid) throw new Error(`${c.name}: unexpected outcome`)
  const problems = Result.isFailure(result) ? result.failure.problems : []
  const unlocated = problems.filter((p) => p.line === undefined || p.column === undefined).length
  if (unlocated > 0) throw new Error(`${c.name}: ${unlocated} problems without a line:column`)
  parse(text, { uniqueKeys: false })
  const [baseline, decode] = timePair(
    () => parse(text, { uniqueKeys: false }),
    () => parseRolloutSpec(text)
  )
  rows.push({
    case: c.name,
    kb: Math.round(text.length / 1024),
    labels,
    problems: problems.length,
    yamlParseMs: baseline,
    parseRolloutSpecMs: decode,
    ratio: decode / baseline
  })
  console.log(
    `${c.name.padEnd(13)} ${String(Math.round(text.length / 1024)).padStart(5)} KB, ${String(labels).padStart(5)} labels, ${String(problems.length).padStart(5)} problems (all located): parseRolloutSpec ${decode.toFixed(1)} ms, yaml parse ${baseline.toFixed(1)} ms, ×${(decode / baseline).toFixed(2)}`
  )
}
// The machines here are shared: the 1-minute load average says how busy this one was.
writeResult("spec-decode", {
  baseline: "yaml parse(text, { uniqueKeys: false }) of the same text",
  loadAverage: { atStart: loadAtStart, atEnd: os.loadavg()[0] },
  rows
})
