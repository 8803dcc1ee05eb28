// Where a DaemonSet rollout's time goes, seen from the apiserver (BENCH_TRACE=1 of the k8s bench):
// a pod watch stamps, per node, when its old pod was marked for deletion, when it was gone, when
// the DaemonSet controller created the new pod, when the scheduler bound it and when it was Ready.
// `summarize` reports those stages for one rollout (medians and maxima per node) and, for Sluice,
// per wave: how long after the wave started its last delete, gone, create, bind and Ready happened,
// when Sluice saw the wave healthy, and when the next wave started.
import * as fs from "node:fs"
import * as path from "node:path"
import { CoreV1Api, Watch } from "@kubernetes/client-node"

/**
 * CPU seconds each control-plane process has used so far (from /proc; the pids cluster-up.sh wrote):
 * the difference over a rollout says what that rollout cost the control plane.
 */
export const controlPlaneCpu = (clusterDir) => {
  const out = {}
  for (const file of fs.readdirSync(path.join(clusterDir, "pids"))) {
    try {
      const pid = fs.readFileSync(path.join(clusterDir, "pids", file), "utf8").trim()
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      // utime and stime, fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
      out[file.replace(/\.pid$/, "")] = (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      // A component that is not running has no figure.
    }
  }
  return out
}

/** What a rollout cost each component: `after - before`, as one line. */
export const cpuLine = (label, before, after) =>
  `cpu ${label} (s): ${Object.keys(after)
    .map((k) => `${k} ${(after[k] - (before[k] ?? 0)).toFixed(1)}`)
    .join(", ")}`

const isReady = (pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** Starts the watch; returns the per-pod stamps (by uid) and a stop function. */
export const podTimeline = async (kc, namespace) => {
  const pods = new Map()
  const stamp = (pod, type) => {
    const uid = pod.metadata?.uid
    const now = Date.now()
    let p = pods.get(uid)
    if (p === undefined) {
      p = { app: pod.metadata?.labels?.app, node: undefined, added: now }
      pods.set(uid, p)
    }
    // DaemonSet pods are bound by the scheduler: the node comes with the binding.
    const node = pod.spec?.nodeName
    if (node !== undefined && p.node === undefined) {
      p.node = node
      p.bound = now
    }
    if (pod.metadata?.deletionTimestamp !== undefined) p.terminating ??= now
    if (isReady(pod)) p.ready ??= now
    if (type === "DELETED") p.gone ??= now
  }
  // The apiserver closes a watch whose client reads too slowly (a loaded machine): go on from the
  // last resourceVersion seen, so no event is lost.
  let resourceVersion
  let req
  let stopped = false
  const start = async () => {
    req = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { allowWatchBookmarks: true, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
      (type, pod) => {
        resourceVersion = pod.metadata?.resourceVersion ?? resourceVersion
        if (type !== "BOOKMARK") stamp(pod, type)
      },
      (err) => {
        if (stopped) return
        if (err !== null && err !== undefined)
          process.stderr.write(`trace: the pod watch ended (${err}); watching again\n`)
        start().catch((e) => process.stderr.write(`trace: cannot watch pods again: ${e}\n`))
      }
    )
  }
  // A list first: its resourceVersion is a consistent point to watch from (the events of a watch's
  // initial state are not ordered, so a restart could not resume from one of them).
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace })
  for (const pod of list.items) stamp(pod, "ADDED")
  resourceVersion = list.metadata?.resourceVersion
  await start()
  return {
    pods,
    stop: () => {
      stopped = true
      req?.abort()
    }
  }
}

const q = (xs, f) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(f * s.length))]
}
const sec = (ms) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "-")

/**
 * One rollout of DaemonSet `app` between `from` and `to` (epoch ms). Per node: the old pod that was
 * deleted in the window and the new pod that replaced it.
 */
export const summarize = (timeline, { app, from, to, waves }) => {
  const olds = new Map()
  const news = new Map()
  for (const p of timeline.pods.values()) {
    if (p.app !== app || p.node === undefined) continue
    if (p.terminating !== undefined && p.terminating >= from && p.terminating <= to) olds.set(p.node, p)
    if (p.added >= from && p.added <= to) news.set(p.node, p)
  }
  const perNode = []
  for (const [node, o] of olds) {
    const n = news.get(node)
    if (n === undefined) continue
    perNode.push({ node, del: o.terminating, gone: o.gone, created: n.added, bound: n.bound, ready: n.ready })
  }
  const stage = (name, a, b) => {
    const xs = perNode.map((r) => r[b] - r[a]).filter(Number.isFinite)
    return `${name} p50 ${sec(q(xs, 0.5))} p90 ${sec(q(xs, 0.9))} max ${sec(q(xs, 1))}`
  }
  const lines = [
    `trace ${app}: ${perNode.length} nodes replaced in ${sec(to - from)}s (${timeline.pods.size} pods seen); per node (s): ` +
      [
        stage("delete→gone", "del", "gone"),
        stage("gone→created", "gone", "created"),
        stage("created→bound", "created", "bound"),
        stage("bound→ready", "bound", "ready"),
        stage("delete→ready", "del", "ready")
      ].join("; ")
  ]
  for (const [i, w] of (waves ?? []).entries()) {
    const next = waves[i + 1]?.start ?? to
    const rows = perNode.filter((r) => r.del >= w.start && r.del < next)
    const last = (k) => Math.max(...rows.map((r) => r[k]).filter(Number.isFinite)) - w.start
    const first = (k) => Math.min(...rows.map((r) => r[k]).filter(Number.isFinite)) - w.start
    lines.push(
      `  wave ${w.wave} (${rows.length} nodes), s after its start: deletes ${sec(first("del"))}–${sec(last("del"))}, ` +
        `gone ${sec(first("gone"))}–${sec(last("gone"))}, created ${sec(first("created"))}–${sec(last("created"))}, ` +
        `bound –${sec(last("bound"))}, ready ${sec(first("ready"))}–${sec(last("ready"))}, ` +
        `sluice healthy ${sec(w.healthy - w.start)}, next wave ${sec(next - w.start)}`
    )
  }
  return lines.join("\n")
}
