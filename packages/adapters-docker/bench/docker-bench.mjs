// Docker benchmark: update N (default 20) containers on one engine from v1 to v2.
//   (a) a naive sequential shell script: docker pull / stop / rm / run per container (no health wait,
//       no rollback, no journal) — what people do today;
//   (b) Sluice (interpreter + file journal + Docker adapter) with 1 target per wave (concurrency 1);
//   (c) Sluice with 4 targets per wave (concurrency 4).
// Sluice waits until every container is healthy (its HEALTHCHECK) before the next wave; the script
// does not. Reports wall times, ratios to the script, and Sluice's own overhead: the share of the
// wall time in which no Docker API call was in flight and no updated container was still turning
// healthy (so: the interpreter, the journal's fsyncs, scheduling). Goal: overhead <= 10%.
//
// Needs the engine and images of scripts/docker (provision.sh, build-test-images.sh; registry.sh for
// the pulls). Uses the built packages (npm run bench runs tsc -b first). No test asserts times.
//
// Its containers (bench-agent-*, health checks every 250 ms) are removed on every way out: the
// normal end, a thrown error, SIGINT, SIGTERM and SIGHUP. A signal stops the run first (the shell
// script's process group is terminated, the rollout's fiber interrupted: an apply in flight
// finishes, none starts), so nothing is created after the removal; the exit status is then 128 + the
// signal's number.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeDockerAdapter } from "@sluice/adapters-docker"
import { makeFileStore, RolloutStore, startRollout, TargetAdapter } from "@sluice/core"
import Docker from "dockerode"
import { Effect, Exit, Fiber, Layer } from "effect"

const root = path.resolve(import.meta.dirname, "../../..")
const { writeResult } = await import(path.join(root, "bench/results.mjs"))
const N = Number(process.env.BENCH_DOCKER_N ?? 20)
const state = process.env.SLUICE_DOCKER_STATE ?? "/var/tmp/sluice-docker"
const socket = "/var/run/docker.sock"
const docker = new Docker({ socketPath: socket })
const LABEL = "io.sluice.test.suite=bench"

const fail = (msg) => {
  console.log(
    `docker bench: ${msg}\n  provision with: bash scripts/docker/provision.sh && bash scripts/docker/build-test-images.sh && bash scripts/docker/registry.sh`
  )
  process.exit(process.env.CI === "true" ? 1 : 0)
}
try {
  await docker.ping()
  await docker.getImage("sluice-test/agent:v1").inspect()
} catch (e) {
  fail(`no engine or test images (${e.message}); skipped`)
}

// With the registry up, both sides pull the new image from it (credentials from registry.sh);
// without it, neither pulls.
const password = (() => {
  try {
    return fs.readFileSync(path.join(state, "registry/password"), "utf8").trim()
  } catch {
    return undefined
  }
})()
const registryUp =
  password !== undefined &&
  (await fetch("http://127.0.0.1:5000/v2/").then(
    (r) => r.status === 401,
    () => false
  ))
const V1 = registryUp ? "localhost:5000/sluice/agent:v1" : "sluice-test/agent:v1"
const V2 = registryUp ? "localhost:5000/sluice/agent:v2" : "sluice-test/agent:v2"
const dockerConfigDir = path.join(state, "registry/docker-config") // logged in by registry.sh

const names = Array.from({ length: N }, (_, i) => `bench-agent-${String(i).padStart(2, "0")}`)
const HEALTH = {
  Test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1"],
  Interval: 250e6,
  Timeout: 2e9,
  Retries: 3
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// --- Stopping and cleaning up -------------------------------------------------------------------
/** The signal that interrupted the run, if one did. */
let interruptedBy
/** What is running now and must be stopped on a signal. */
let naiveChild
let rolloutFiber
class Interrupted extends Error {}
/** Called between steps: ends the run (through its `finally`) once a signal has arrived. */
const checkpoint = () => {
  if (interruptedBy !== undefined) throw new Interrupted(interruptedBy)
}

/** Every container of the benchmark, by label or by name (an apply's temporary and parked names included). */
const benchContainers = async () => {
  const [byLabel, byName] = await Promise.all([
    docker.listContainers({ all: true, filters: { label: [LABEL] } }),
    docker.listContainers({ all: true, filters: { name: ["bench-agent-"] } })
  ])
  return [...new Map([...byLabel, ...byName].map((c) => [c.Id, c])).values()]
}
const removeAll = async () => {
  const list = await benchContainers()
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => {})
    )
  )
  return list.length
}
/**
 * Removes the bench containers until two listings a second apart find none (a create the engine was
 * still finishing for a docker CLI that was just killed shows up late).
 */
let cleaning
const cleanup = () =>
  (cleaning ??= (async () => {
    let removed = 0
    let empty = 0
    for (let pass = 0; pass < 30; pass++) {
      const n = await removeAll().catch((e) => {
        console.log(`docker bench: cleanup: ${e.message}`)
        return 1
      })
      removed += n
      empty = n === 0 ? empty + 1 : 0
      if (empty === 2) {
        if (removed > 0) console.log(`docker bench: removed ${removed} bench container(s)`)
        return true
      }
      await sleep(n === 0 ? 1000 : 250)
    }
    const left = await benchContainers().catch(() => [])
    console.log(
      `docker bench: could not remove every bench container (left: ${left.map((c) => c.Names[0]).join(", ") || "unknown"}); remove them with: docker rm -f $(docker ps -aq --filter name=bench-agent-)`
    )
    return false
  })())

const onSignal = (signal) => {
  if (interruptedBy !== undefined) {
    console.log(`docker bench: ${signal} again: still stopping and removing the bench containers`)
    return
  }
  interruptedBy = signal
  if (cleaning !== undefined) {
    // The run is over and the cleanup started: finish it, and exit as the signal asks.
    cleanup().finally(() => process.exit(128 + os.constants.signals[signal]))
    return
  }
  console.log(`\ndocker bench: ${signal}: stopping the run, then removing the bench-agent-* containers`)
  if (naiveChild !== undefined && naiveChild.exitCode === null && naiveChild.signalCode === null) {
    try {
      process.kill(-naiveChild.pid, "SIGTERM") // the script and the docker CLI it runs
    } catch {}
  }
  if (rolloutFiber !== undefined) Effect.runFork(Fiber.interrupt(rolloutFiber))
  // Should the run not come to a stop (an Engine call hanging), clean up anyway.
  setTimeout(() => cleanup().finally(() => process.exit(128 + os.constants.signals[signal])), 60_000)
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, onSignal)

const createFleet = async () => {
  await removeAll()
  for (const name of names) {
    checkpoint()
    const c = await docker.createContainer({
      name,
      Image: V1,
      Labels: { "io.sluice.test": "1", "io.sluice.test.suite": "bench", app: "agent" },
      Env: ["AGENT_SITE=bench"],
      Healthcheck: HEALTH,
      HostConfig: { RestartPolicy: { Name: "unless-stopped" }, Memory: 64 * 1024 * 1024 }
    })
    await c.start()
  }
  // All healthy before the clock starts.
  const deadline = Date.now() + 120_000
  for (const name of names) {
    for (;;) {
      checkpoint()
      const c = await docker.getContainer(name).inspect()
      if (c.State.Health?.Status === "healthy") break
      if (Date.now() > deadline) throw new Error(`${name} not healthy after 120 s (${c.State.Health?.Status})`)
      await sleep(100)
    }
  }
}

const naive = async () => {
  const script = `set -e
for n in ${names.join(" ")}; do
  ${registryUp ? `docker pull -q ${V2} >/dev/null` : ":"}
  docker stop -t 10 "$n" >/dev/null
  docker rm "$n" >/dev/null
  docker run -d --name "$n" --label io.sluice.test=1 --label io.sluice.test.suite=bench --label app=agent \\
    -e AGENT_SITE=bench --restart unless-stopped --memory 64m \\
    --health-cmd 'wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1' --health-interval 250ms --health-timeout 2s --health-retries 3 \\
    ${V2} >/dev/null
done`
  checkpoint()
  const t0 = performance.now()
  // Its own process group, so that a signal stops the docker CLI it runs too.
  naiveChild = spawn("bash", ["-c", script], {
    env: { ...process.env, DOCKER_CONFIG: dockerConfigDir },
    stdio: ["ignore", "inherit", "inherit"],
    detached: true
  })
  const [code, signal] = await new Promise((resolve, reject) => {
    naiveChild.on("error", reject)
    naiveChild.on("exit", (c, s) => resolve([c, s]))
  })
  const wallMs = performance.now() - t0
  naiveChild = undefined
  checkpoint()
  if (code !== 0) throw new Error(`naive script failed (${signal ?? `exit ${code}`})`)
  return { wallMs }
}

/** Union length of [start, end] intervals. */
const unionMs = (intervals) => {
  const xs = [...intervals].sort((a, b) => a[0] - b[0])
  let total = 0
  let cur
  for (const [s, e] of xs) {
    if (!cur || s > cur[1]) {
      if (cur) total += cur[1] - cur[0]
      cur = [s, e]
    } else cur[1] = Math.max(cur[1], e)
  }
  if (cur) total += cur[1] - cur[0]
  return total
}

const sluice = async (concurrency) => {
  const adapter = await Effect.runPromise(
    makeDockerAdapter({
      hosts: [{ name: "local", endpoint: `unix://${socket}` }],
      dockerConfig: false,
      ...(registryUp
        ? { registries: { "localhost:5000": { username: "sluice", password } }, pullPolicy: "Always" }
        : {})
    })
  )
  // Instrument every Engine API call (dockerode's dial and the adapter's raw requests).
  const api = []
  const engine = adapter.engines.get("local")
  const modem = engine.docker.modem
  const dial = modem.dial.bind(modem)
  modem.dial = (options, callback) => {
    const start = performance.now()
    return dial(options, (err, data) => {
      api.push([start, performance.now()])
      callback(err, data)
    })
  }
  const request = engine.request.bind(engine)
  engine.request = async (...args) => {
    const start = performance.now()
    try {
      return await request(...args)
    } finally {
      api.push([start, performance.now()])
    }
  }
  // Time a target spends turning healthy after its apply (waiting on the container, not on Sluice).
  const appliedAt = new Map()
  const waiting = []
  const shape = {
    ...adapter,
    apply: (t, a, c) =>
      adapter.apply(t, a, c).pipe(Effect.tap(() => Effect.sync(() => appliedAt.set(t.id, performance.now())))),
    health: (t) =>
      adapter.health(t).pipe(
        Effect.tap((r) =>
          Effect.sync(() => {
            const since = appliedAt.get(t.id)
            if (since !== undefined && r.status !== "progressing") {
              waiting.push([since, performance.now()])
              appliedAt.delete(t.id)
            }
          })
        )
      )
  }
  const targets = names.map((n) => ({ id: `local/${n}`, name: n, labels: {} }))
  const waves = []
  for (let i = 0; i < targets.length; i += concurrency) {
    waves.push({
      index: waves.length,
      kind: "batch",
      targets: targets.slice(i, i + concurrency).map((t) => t.id),
      maxUnavailable: concurrency,
      maxSurge: 0,
      analysis: [],
      approvalBefore: false
    })
  }
  const plan = () => ({ strategy: "rolling", targets, waves, upToDate: [], fingerprint: `bench-${concurrency}` })
  const config = {
    rolloutId: `bench-c${concurrency}-${Date.now()}`,
    adapter: "docker",
    selector: { labels: { "io.sluice.test.suite": "bench" } },
    artifact: { image: { raw: V2 } },
    health: { progressDeadlineMs: 120_000, minReadyMs: 0, pollIntervalMs: 100 },
    rollback: { onFailure: true, onAbort: true },
    gates: { policy: false, scan: false, analysis: [] },
    operations: { timeoutMs: 120_000, retries: 3, retryBaseMs: 200, concurrency }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-docker-bench-"))
  checkpoint()
  const t0 = performance.now()
  // Forked, so that a signal can interrupt it (onSignal).
  rolloutFiber = Effect.runFork(
    startRollout({ config, spec: {}, plan }).pipe(
      Effect.provide(
        Layer.mergeAll(Layer.succeed(TargetAdapter, shape), Layer.succeed(RolloutStore, makeFileStore(dir)))
      )
    )
  )
  const exit = await Effect.runPromise(Fiber.await(rolloutFiber))
  const t1 = performance.now()
  rolloutFiber = undefined
  fs.rmSync(dir, { recursive: true, force: true })
  checkpoint()
  if (Exit.isFailure(exit)) throw new Error(`bench rollout failed: ${exit.cause}`)
  const result = exit.value
  if (result.outcome !== "completed") throw new Error(`bench rollout ended ${result.outcome}`)
  const clip = (xs) => xs.map(([s, e]) => [Math.max(s, t0), Math.min(e, t1)]).filter(([s, e]) => e > s)
  const wallMs = t1 - t0
  const apiMs = unionMs(clip(api))
  const busyMs = unionMs(clip([...api, ...waiting]))
  return { wallMs, apiMs, healthWaitMs: unionMs(clip(waiting)), overheadMs: wallMs - busyMs, apiCalls: api.length }
}

const check = async (image) => {
  for (const n of names) {
    const c = await docker.getContainer(n).inspect()
    if (c.Config.Image !== image) throw new Error(`${n} runs ${c.Config.Image}, not ${image}`)
  }
}

console.log(
  `updating ${N} containers ${V1} → ${V2} on one engine (${registryUp ? "pulling from the local registry" : "no registry: nothing pulled"})`
)
const reps = Number(process.env.BENCH_DOCKER_REPS ?? 1)
const runs = { naive: [], c1: [], c4: [] }
let failure
try {
  for (let i = 0; i < reps; i++) {
    await createFleet()
    runs.naive.push(await naive())
    await check(V2)
    await createFleet()
    runs.c1.push(await sluice(1))
    await check(V2)
    await createFleet()
    runs.c4.push(await sluice(4))
    await check(V2)
  }
} catch (e) {
  if (!(e instanceof Interrupted)) failure = e
} finally {
  const clean = await cleanup()
  if (interruptedBy !== undefined) {
    console.log(`docker bench: interrupted by ${interruptedBy}; no result written`)
    process.exit(128 + os.constants.signals[interruptedBy])
  }
  if (failure !== undefined) {
    console.error(failure)
    process.exit(1)
  }
  if (!clean) process.exit(1)
}

const median = (xs, k) => [...xs].map((x) => x[k]).sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const base = median(runs.naive, "wallMs")
const row = (name, xs) => {
  const wall = median(xs, "wallMs")
  const overhead = xs[0].overheadMs === undefined ? undefined : median(xs, "overheadMs")
  return {
    name,
    wallMs: wall,
    perContainerMs: wall / N,
    ratioToScript: wall / base,
    dockerApiMs: xs[0].apiMs === undefined ? null : median(xs, "apiMs"),
    healthWaitMs: xs[0].healthWaitMs === undefined ? null : median(xs, "healthWaitMs"),
    overheadMs: overhead ?? null,
    overheadPct: overhead === undefined ? null : (100 * overhead) / wall
  }
}
const rows = [
  row("naive script (pull/stop/rm/run, sequential)", runs.naive),
  row("sluice, concurrency 1 (health-gated waves)", runs.c1),
  row("sluice, concurrency 4 (health-gated waves)", runs.c4)
]
for (const r of rows) {
  console.log(
    `${r.name.padEnd(46)} ${(r.wallMs / 1000).toFixed(2).padStart(7)} s  ×${r.ratioToScript.toFixed(2)}` +
      (r.overheadPct === null
        ? ""
        : `  api ${(r.dockerApiMs / 1000).toFixed(2)} s, health wait ${(r.healthWaitMs / 1000).toFixed(2)} s, sluice overhead ${(r.overheadMs / 1000).toFixed(2)} s = ${r.overheadPct.toFixed(1)}% (goal ≤ 10%)`)
  )
}
writeResult("docker", { containers: N, reps, pulls: registryUp, baseline: "naive script", rows })
