// A DaemonSet over 1,000 kwok nodes on the real control plane (kube-apiserver, the DaemonSet
// controller, the scheduler, kwok): Sluice's node waves of 10% against the native DaemonSet
// RollingUpdate with maxUnavailable 10%, on the same cluster in the same run, alternating A B A B.
// Reports the wall-time ratio, Sluice's API requests per node (counted on the apiserver side, from
// its audit log, for Sluice's own service account) and the Sluice process's peak RSS. The cluster is
// scripts/kube's, whose kwok moves 32 pods through a stage at once (scripts/kube/kwok-configuration.yaml:
// with kwok's default of 4, each wave of 100 pods queued in kwok, a queue real kubelets do not form).
// Env: BENCH_NODES (default 1000), BENCH_ROUNDS (default 2), BENCH_TRACE=1 (where the time goes: a
// pod watch times every node's pipeline — old pod deleted, gone, new pod created, scheduled, Ready —
// for both controllers, and per Sluice wave, plus the CPU each control-plane process used; see
// pipeline.mjs), BENCH_CPU_PROF=<dir> (a V8 CPU profile of each Sluice run).
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node"
import { writeResult } from "../../../bench/results.mjs"
import { controlPlaneCpu, cpuLine, podTimeline, summarize } from "./pipeline.mjs"

const NODES = Number(process.env.BENCH_NODES ?? 1000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const TRACE = process.env.BENCH_TRACE === "1"
// BENCH_ZONES=1: zone by zone (topology.key), as an operator would roll; 1,000 nodes over 3 zones
// then make 12 waves (4 per zone, the last of each short) where the native controller has 10 steps.
// Default: the comparison, 10% node waves across the fleet against maxUnavailable 10%.
const ZONES = process.env.BENCH_ZONES === "1"
const repo = path.resolve(import.meta.dirname, "../../..")
const NS = "bench"
const SA = "sluice"
const IMAGE = (v) => `registry.sluice.dev/agents/node-agent:${v}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
/** A child process, without blocking this one's event loop (the trace's pod watch runs meanwhile). */
const run = (command, args) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repo, stdio: ["ignore", "pipe", "inherit"] })
    let stdout = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => (stdout += chunk))
    child.on("error", reject)
    child.on("close", (status) => resolve({ status, stdout }))
  })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-k8s-bench-"))
const up = execFileSync(
  "bash",
  [path.join(repo, "scripts/kube/cluster-up.sh"), dir, "--owner-pid", String(process.pid)],
  {
    env: { ...process.env, SLUICE_KUBE_AUDIT: "1" },
    stdio: ["ignore", "pipe", "inherit"]
  }
)
const adminConfig = up.toString().trim().split("\n").at(-1)
const down = () => spawnSync("bash", [path.join(repo, "scripts/kube/cluster-down.sh"), dir], { stdio: "inherit" })
process.on("SIGINT", () => {
  down()
  process.exit(130)
})

let timeline
try {
  const kc = new KubeConfig()
  kc.loadFromFile(adminConfig)
  const core = kc.makeApiClient(CoreV1Api)
  const apps = kc.makeApiClient(AppsV1Api)
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api)

  console.log(`creating ${NODES} kwok nodes ...`)
  const names = Array.from({ length: NODES }, (_, i) => `node-${String(i).padStart(4, "0")}`)
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(
      names.slice(i, i + 25).map((name, j) =>
        core.createNode({
          body: {
            metadata: {
              name,
              labels: {
                "topology.kubernetes.io/zone": ["zone-a", "zone-b", "zone-c"][(i + j) % 3],
                "kubernetes.io/hostname": name,
                type: "kwok"
              },
              annotations: { "kwok.x-k8s.io/node": "fake" }
            }
          }
        })
      )
    )
  }
  await core.createNamespace({ body: { metadata: { name: NS } } })

  // Sluice runs as a service account of its own, so the audit log tells its requests apart.
  await core.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: SA } } })
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: "sluice-bench" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
      subjects: [{ kind: "ServiceAccount", name: SA, namespace: NS }]
    }
  })
  const token = (
    await core.createNamespacedServiceAccountToken({
      name: SA,
      namespace: NS,
      body: { spec: { expirationSeconds: 86400 } }
    })
  ).status?.token
  const cluster = kc.getCurrentCluster()
  const sluiceConfig = path.join(dir, "sluice.kubeconfig")
  fs.writeFileSync(
    sluiceConfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "bench",
          cluster: {
            server: cluster.server,
            "certificate-authority-data": cluster.caData ?? fs.readFileSync(cluster.caFile).toString("base64")
          }
        }
      ],
      users: [{ name: SA, user: { token } }],
      contexts: [{ name: "bench", context: { cluster: "bench", user: SA } }],
      "current-context": "bench"
    })
  )

  const template = (name, image) => ({
    metadata: { labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsNonRoot: true, runAsUser: 10001 },
      tolerations: [{ operator: "Exists" }],
      containers: [
        {
          name: "agent",
          image,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
          resources: { limits: { cpu: "50m", memory: "32Mi" } }
        }
      ]
    }
  })
  const settled = async (name, image) => {
    while (true) {
      const d = await apps.readNamespacedDaemonSet({ name, namespace: NS })
      const s = d.status
      if (
        (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        d.spec?.template.spec?.containers[0]?.image === image &&
        s?.desiredNumberScheduled === NODES &&
        s.updatedNumberScheduled === NODES &&
        s.numberAvailable === NODES
      )
        return
      await sleep(200)
    }
  }
  for (const name of ["native", "sluice"]) {
    await apps.createNamespacedDaemonSet({
      namespace: NS,
      body: {
        metadata: { name },
        spec: {
          selector: { matchLabels: { app: name } },
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "10%" } },
          template: template(name, IMAGE("1.0.0"))
        }
      }
    })
    console.log(`waiting for DaemonSet ${name} on ${NODES} nodes ...`)
    await settled(name, IMAGE("1.0.0"))
  }

  const auditLog = path.join(dir, "logs", "audit.log")
  const sluiceRequests = () => {
    const ids = new Set()
    for (const line of fs.readFileSync(auditLog, "utf8").split("\n")) {
      if (!line.includes(`system:serviceaccount:${NS}:${SA}`)) continue
      const e = JSON.parse(line)
      if (e.user?.username === `system:serviceaccount:${NS}:${SA}`) ids.add(e.auditID)
    }
    return ids.size
  }

  // Trace mode: the pod watch runs in this process, so the Sluice run below must not block it.
  timeline = TRACE ? await podTimeline(kc, NS) : undefined
  const rows = []
  for (let round = 1; round <= ROUNDS; round++) {
    const image = IMAGE(`${round + 1}.0.0`)
    // A: the native controller.
    const cpuBefore = controlPlaneCpu(dir)
    const t0 = performance.now()
    const nativeStart = Date.now()
    await apps.patchNamespacedDaemonSet(
      {
        name: "native",
        namespace: NS,
        body: [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: image }]
      },
      { headers: { "Content-Type": "application/json-patch+json" } }
    )
    await settled("native", image)
    const nativeMs = performance.now() - t0
    const cpuNative = controlPlaneCpu(dir)
    if (timeline !== undefined) {
      console.log(summarize(timeline, { app: "native", from: nativeStart, to: Date.now() }))
      console.log(cpuLine("native", cpuBefore, cpuNative))
    }
    // B: Sluice, node waves of 10%.
    const before = sluiceRequests()
    const spec = `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: agent }
spec:
  target: { adapter: kubernetes, selector: { namespace: ${NS}, kind: DaemonSet, name: sluice } }
  artifact: { image: "${image}" }
  strategy: { rolling: { batchSize: 10%, maxUnavailable: 10% } }
${ZONES ? "  topology: { key: topology.kubernetes.io/zone }\n" : ""}  health: { progressDeadline: 5m, minReadySeconds: 0 }
  gates: { policy: { enabled: true }, scan: { enabled: false } }
`
    const sluiceStart = Date.now()
    const child = await run(process.execPath, [
      // BENCH_CPU_PROF=<dir>: a V8 CPU profile of each Sluice run there (where its CPU goes).
      ...(process.env.BENCH_CPU_PROF === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]),
      path.join(import.meta.dirname, "sluice-rollout.mjs"),
      JSON.stringify({ kubeconfig: sluiceConfig, spec, rolloutId: `bench-${round}` })
    ])
    if (child.status !== 0) throw new Error(`sluice run failed: ${child.stdout}`)
    const sluice = JSON.parse(child.stdout.trim().split("\n").at(-1))
    if (timeline !== undefined) {
      console.log(summarize(timeline, { app: "sluice", from: sluiceStart, to: Date.now(), waves: sluice.waves }))
      console.log(
        `${cpuLine("sluice", cpuNative, controlPlaneCpu(dir))}, sluice process ${sluice.cpuSeconds.toFixed(1)}`
      )
    }
    if (sluice.outcome !== "completed") throw new Error(`sluice rollout ended ${sluice.outcome}`)
    await sleep(1000) // let the audit backend flush
    const requests = sluiceRequests() - before
    const row = {
      round,
      nodes: NODES,
      nativeSeconds: nativeMs / 1000,
      sluiceSeconds: sluice.wallMs / 1000,
      ratio: sluice.wallMs / nativeMs,
      requestsPerNode: requests / NODES,
      sluiceRequests: requests,
      sluicePeakRssMiB: sluice.maxRssMiB,
      sluiceCpuSeconds: sluice.cpuSeconds
    }
    rows.push(row)
    console.log(JSON.stringify(row))
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  writeResult(ZONES ? "k8s-daemonset-zones" : "k8s-daemonset", {
    baseline: "native DaemonSet RollingUpdate maxUnavailable 10% on the same cluster, same run (A B A B)",
    sluiceWaves: ZONES ? "10% node waves, zone by zone (topology.key)" : "10% node waves across the fleet",
    goals: { ratio: "<= 1.2", requestsPerNode: "<= 5" },
    medianRatio: median(rows.map((r) => r.ratio)),
    medianRequestsPerNode: median(rows.map((r) => r.requestsPerNode)),
    rows
  })
} finally {
  timeline?.stop()
  down()
}
