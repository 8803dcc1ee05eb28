// Policy evaluation benchmark: decisions/sec and p50/p99 latency for the typical 3-container pod
// (bench/typical-input.mjs), evaluated against the same Rego four ways:
//   (a)  Sluice in-process Wasm (the built-in bundle, one reused instance; prepared input JSON)
//   (a') Sluice full request path (normalize the Kubernetes object, hash the input, evaluate)
//   (b)  `opa eval`, one process per decision
//   (c)  `opa run --server` on 127.0.0.1, sequential POSTs over one keep-alive connection
//   (d)  `opa bench` of the same query (OPA's Go evaluator, in process)
// and reports (a)/(c) throughput and (a)/(d) time per decision. Loops are bounded; the server
// listens on loopback only and is stopped at the end. Needs `npx tsc -b packages/policies` and,
// for (b)-(d), .tools/bin/opa (bash scripts/opa/build-opa.sh). Writes bench/results/policy.{json,md}.
//
// Counts: BENCH_POLICY_WASM (default 20000), BENCH_POLICY_REQUEST (5000), BENCH_POLICY_EVAL (30),
// BENCH_POLICY_SERVER (3000), BENCH_POLICY_OPA_BENCH_COUNT (3).
import { spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, writeFileSync } from "node:fs"
import http from "node:http"
import net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { writeResult } from "../../../bench/results.mjs"
import { buildPolicyInput, builtinBundleDir, loadBundle, makeEvaluator } from "../lib/index.js"
import { request } from "./typical-input.mjs"

const pkg = fileURLToPath(new URL("..", import.meta.url))
const repo = join(pkg, "..", "..")
const opa = join(repo, ".tools", "bin", "opa")
const n = (name, d) => Number(process.env[name] ?? d)
const N_WASM = n("BENCH_POLICY_WASM", 20_000)
const N_REQUEST = n("BENCH_POLICY_REQUEST", 5_000)
const N_EVAL = n("BENCH_POLICY_EVAL", 30)
const N_SERVER = n("BENCH_POLICY_SERVER", 3_000)
const OPA_BENCH_COUNT = n("BENCH_POLICY_OPA_BENCH_COUNT", 3)
const NOW = Date.parse("2026-11-21T00:00:00Z")
const OPA_IGNORE = ["--ignore", "*_test.rego", "--ignore", "samples"]
const OPA_PATHS = [join(pkg, "policies"), join(pkg, "data", "data.json")]
/** `opa eval` / `opa bench` load the sources with -d, `opa run` takes them as arguments. */
const OPA_DATA_FLAGS = [...OPA_IGNORE, ...OPA_PATHS.flatMap((p) => ["-d", p])]

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

/** Summarizes per-decision latencies (ms) measured over `totalMs` wall time. */
const summarize = (name, latencies, totalMs, note = "") => {
  const s = Float64Array.from(latencies).sort()
  const row = {
    method: name,
    decisions: s.length,
    perSec: s.length / (totalMs / 1000),
    meanUs: (totalMs * 1000) / s.length,
    p50Us: quantile(s, 0.5) * 1000,
    p99Us: quantile(s, 0.99) * 1000,
    note
  }
  console.log(
    `${name.padEnd(34)} ${String(row.decisions).padStart(6)} decisions  ${row.perSec.toFixed(0).padStart(7)}/s  p50 ${row.p50Us.toFixed(0).padStart(7)}µs  p99 ${row.p99Us.toFixed(0).padStart(7)}µs`
  )
  return row
}

const timed = (count, f) => {
  const lat = new Float64Array(count)
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    f(i)
    lat[i] = performance.now() - t
  }
  return { lat, total: performance.now() - start }
}

const timedAsync = async (count, f) => {
  const lat = new Float64Array(count)
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    await f(i)
    lat[i] = performance.now() - t
  }
  return { lat, total: performance.now() - start }
}

const input = buildPolicyInput(request(), NOW).success
const inputJson = JSON.stringify(input)
const rows = []

// (a) and (a'): Sluice in process.
const bundle = await Effect.runPromise(loadBundle({ path: builtinBundleDir, name: "sluice" }))
const evaluator = makeEvaluator([bundle])
if (!evaluator.evaluateJson(inputJson).allow) throw new Error("the typical input should be allowed")
for (let i = 0; i < 500; i++) evaluator.evaluateJson(inputJson) // warm-up
{
  const { lat, total } = timed(N_WASM, () => evaluator.evaluateJson(inputJson))
  rows.push(summarize("(a) sluice wasm, in process", lat, total, "prepared input JSON; result validated by Schema"))
}
{
  const req = request()
  const { lat, total } = timed(N_REQUEST, () => evaluator.evaluateRequest(req, NOW))
  rows.push(summarize("(a') sluice full request path", lat, total, "normalize k8s object + sha256 + evaluate"))
}
const a = rows[0]

let ratios = {}
if (!existsSync(opa)) {
  console.log(`\n(b)-(d) skipped: ${opa} is missing (bash scripts/opa/build-opa.sh)`)
} else {
  const dir = mkdtempSync(join(tmpdir(), "sluice-policy-bench-"))
  const inputFile = join(dir, "input.json")
  writeFileSync(inputFile, inputJson)
  const opaVersion = spawnSync(opa, ["version"], { encoding: "utf8" }).stdout.split("\n")[0]

  // (b) one `opa eval` process per decision.
  {
    const args = ["eval", "-f", "json", ...OPA_DATA_FLAGS, "--stdin-input", "data.sluice.decision"]
    const { lat, total } = timed(N_EVAL, () => {
      const r = spawnSync(opa, args, { input: inputJson, encoding: "utf8", maxBuffer: 1 << 26 })
      if (r.status !== 0) throw new Error(`opa eval failed: ${r.stderr}`)
      if (JSON.parse(r.stdout).result[0].expressions[0].value.allow !== true)
        throw new Error("opa eval: expected allow")
    })
    rows.push(summarize("(b) opa eval, process per decision", lat, total, opaVersion))
  }

  // (c) `opa run --server` on loopback, keep-alive HTTP.
  {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = s.address().port
        s.close(() => resolve(p))
      })
      s.on("error", reject)
    })
    const server = spawn(
      opa,
      [
        "run",
        "--server",
        "--addr",
        `127.0.0.1:${port}`,
        "--log-level",
        "error",
        "--skip-version-check",
        ...OPA_IGNORE,
        ...OPA_PATHS
      ],
      { stdio: ["ignore", "ignore", "pipe"] }
    )
    let stderr = ""
    server.stderr.on("data", (b) => (stderr += b))
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    const post = (path, body) =>
      new Promise((resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port,
            path,
            method: "POST",
            agent,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
          },
          (res) => {
            const chunks = []
            res.on("data", (c) => chunks.push(c))
            res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }))
          }
        )
        req.on("error", reject)
        req.end(body)
      })
    try {
      const deadline = Date.now() + 30_000
      for (;;) {
        const ok = await post("/v1/data/sluice/decision", JSON.stringify({ input })).then(
          (r) => r.status === 200,
          () => false
        )
        if (ok) break
        if (Date.now() > deadline || server.exitCode !== null) throw new Error(`opa server did not come up: ${stderr}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const body = JSON.stringify({ input })
      for (let i = 0; i < 100; i++) await post("/v1/data/sluice/decision", body) // warm-up
      const { lat, total } = await timedAsync(N_SERVER, async () => {
        const r = await post("/v1/data/sluice/decision", body)
        if (r.status !== 200 || JSON.parse(r.body).result.allow !== true)
          throw new Error(`opa server: ${r.status} ${r.body}`)
      })
      rows.push(summarize("(c) opa run --server, HTTP keep-alive", lat, total, "127.0.0.1, sequential, one connection"))
    } finally {
      agent.destroy()
      server.kill("SIGTERM")
    }
  }

  // (d) `opa bench` of the same query.
  {
    const r = spawnSync(
      opa,
      [
        "bench",
        ...OPA_DATA_FLAGS,
        "-i",
        inputFile,
        "--format",
        "json",
        "--count",
        String(OPA_BENCH_COUNT),
        "data.sluice.decision"
      ],
      { encoding: "utf8", maxBuffer: 1 << 26 }
    )
    if (r.status !== 0) throw new Error(`opa bench failed: ${r.stderr}`)
    // --count > 1 prints one JSON document per run; take the median run.
    const docs = r.stdout
      .trim()
      .split(/\n(?=\{)/)
      .map((t) => JSON.parse(t))
    const nsPerOp = docs.map((d) => d.T / d.N).sort((x, y) => x - y)
    const mid = docs.find((d) => d.T / d.N === quantile(nsPerOp, 0.5)) ?? docs[0]
    const row = {
      method: "(d) opa bench (Go evaluator)",
      decisions: docs.reduce((s, d) => s + d.N, 0),
      perSec: 1e9 / quantile(nsPerOp, 0.5),
      meanUs: quantile(nsPerOp, 0.5) / 1000,
      p50Us: (mid.Extra?.histogram_timer_rego_query_eval_ns_median ?? Number.NaN) / 1000,
      p99Us: (mid.Extra?.["histogram_timer_rego_query_eval_ns_99%"] ?? Number.NaN) / 1000,
      note: `median of ${docs.length} runs; p50/p99 = opa's query-eval timer`
    }
    console.log(
      `${row.method.padEnd(34)} ${String(row.decisions).padStart(6)} decisions  ${row.perSec.toFixed(0).padStart(7)}/s  p50 ${row.p50Us.toFixed(0).padStart(7)}µs  p99 ${row.p99Us.toFixed(0).padStart(7)}µs`
    )
    rows.push(row)
  }

  const c = rows.find((r) => r.method.startsWith("(c)"))
  const d = rows.find((r) => r.method.startsWith("(d)"))
  ratios = {
    throughputAoverC: a.perSec / c.perSec,
    timePerDecisionAoverD: a.meanUs / d.meanUs,
    // Medians are steadier than means on a busy machine.
    p50AoverC: a.p50Us / c.p50Us,
    p50AoverD: a.p50Us / d.p50Us
  }
  console.log(
    `\n(a)/(c) throughput: ${ratios.throughputAoverC.toFixed(2)}x   (a)/(d) time per decision: ${ratios.timePerDecisionAoverD.toFixed(2)}x (< 1: Sluice's Wasm is faster)   p50 (a)/(c): ${ratios.p50AoverC.toFixed(3)}  p50 (a)/(d): ${ratios.p50AoverD.toFixed(3)}`
  )
}

writeResult("policy", {
  input: {
    description: "Pod with 3 containers (init + agent + sidecar) and a Trivy report; allowed",
    bytes: inputJson.length
  },
  bundle: { name: bundle.name, revision: bundle.revision },
  ratios,
  rows
})
