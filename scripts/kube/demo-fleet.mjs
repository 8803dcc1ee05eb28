#!/usr/bin/env node
// The cluster side of `npm run demo:k8s` (scripts/kube/demo.sh): what an operator's cluster would
// already have. Talks to the apiserver with @kubernetes/client-node (no kubectl here).
//
//   node scripts/kube/demo-fleet.mjs nodes  <kubeconfig> <count> <zone,zone,...>
//       kwok nodes node-<zone>-NN, spread over the zones (label topology.kubernetes.io/zone);
//       kwok runs with --manage-all-nodes, so a plain Node object is a node that runs pods.
//   node scripts/kube/demo-fleet.mjs deploy <kubeconfig> <manifest.yaml>
//       creates the manifest's objects and waits until its DaemonSet runs a Ready pod on every node.
//   node scripts/kube/demo-fleet.mjs show   <kubeconfig> <namespace> <daemonset>
//       the DaemonSet's update strategy and, per zone, which version its pods run and how many are Ready.
import * as fs from "node:fs"
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, loadAllYaml } from "@kubernetes/client-node"

const ZONE = "topology.kubernetes.io/zone"
const [command, kubeconfig, ...args] = process.argv.slice(2)

const fail = (message) => {
  process.stderr.write(`demo-fleet: ${message}\n`)
  process.exit(1)
}
if (command === undefined || kubeconfig === undefined) fail("usage: demo-fleet.mjs nodes|deploy|show <kubeconfig> …")

const kc = new KubeConfig()
kc.loadFromFile(kubeconfig)
const core = kc.makeApiClient(CoreV1Api)
const apps = kc.makeApiClient(AppsV1Api)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const isReady = (o) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false

/** Polls `check` until it returns a value other than undefined; fails after `seconds`. */
const waitFor = async (what, seconds, check) => {
  const deadline = Date.now() + seconds * 1000
  let last
  while (Date.now() < deadline) {
    const [value, progress] = await check()
    if (value !== undefined) return value
    last = progress
    await sleep(250)
  }
  return fail(`timed out after ${seconds}s waiting for ${what}${last === undefined ? "" : ` (${last})`}`)
}

/** Runs `fn` over `items`, `n` at a time. */
const inParallel = async (items, n, fn) => {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
}

const nodes = async (count, zoneList) => {
  const zones = zoneList.split(",")
  const perZone = new Map(zones.map((z) => [z, 0]))
  const specs = Array.from({ length: count }, (_, i) => {
    const zone = zones[i % zones.length]
    const n = perZone.get(zone)
    perZone.set(zone, n + 1)
    return { name: `node-${zone}-${String(n).padStart(2, "0")}`, zone }
  })
  await inParallel(specs, 10, (s) =>
    core.createNode({
      body: {
        metadata: {
          name: s.name,
          labels: {
            [ZONE]: s.zone,
            type: "kwok",
            "kubernetes.io/hostname": s.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64"
          },
          annotations: { "kwok.x-k8s.io/node": "fake" }
        },
        spec: {}
      }
    })
  )
  const wanted = new Set(specs.map((s) => s.name))
  await waitFor(`${count} nodes to be Ready`, 90, async () => {
    const ready = (await core.listNode()).items.filter((n) => wanted.has(n.metadata?.name) && isReady(n)).length
    return [ready === count ? ready : undefined, `${ready}/${count} Ready`]
  })
  console.log(
    `${count} nodes Ready: ${[...perZone.entries()].map(([z, n]) => `${z} ${n} (node-${z}-00…${String(n - 1).padStart(2, "0")})`).join(", ")}`
  )
}

const deploy = async (file) => {
  const objects = loadAllYaml(fs.readFileSync(file, "utf8")).filter((o) => o !== null && o !== undefined)
  const client = KubernetesObjectApi.makeApiClient(kc)
  for (const o of objects) {
    await client.create(o)
    console.log(
      `created ${o.kind} ${o.metadata.namespace === undefined ? "" : `${o.metadata.namespace}/`}${o.metadata.name}`
    )
  }
  for (const ds of objects.filter((o) => o.kind === "DaemonSet")) {
    const { name, namespace } = ds.metadata
    const started = Date.now()
    const s = await waitFor(`DaemonSet ${namespace}/${name} to run a Ready pod on every node`, 180, async () => {
      const d = await apps.readNamespacedDaemonSet({ name, namespace })
      const st = d.status ?? {}
      const done =
        (st.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
        st.desiredNumberScheduled > 0 &&
        st.numberAvailable === st.desiredNumberScheduled &&
        st.updatedNumberScheduled === st.desiredNumberScheduled
      return [done ? st : undefined, `${st.numberAvailable ?? 0}/${st.desiredNumberScheduled ?? "?"} available`]
    })
    console.log(
      `DaemonSet ${namespace}/${name}: ${s.numberAvailable}/${s.desiredNumberScheduled} pods Ready (${((Date.now() - started) / 1000).toFixed(1)}s)`
    )
  }
}

const show = async (namespace, name) => {
  const ds = await apps.readNamespacedDaemonSet({ name, namespace })
  const strategy = ds.spec?.updateStrategy
  const held = Object.entries(ds.metadata?.annotations ?? {}).filter(([k]) => k.startsWith("rollouts.sluice.dev/"))
  const nodeZone = new Map(
    (await core.listNode()).items.map((n) => [n.metadata?.name, n.metadata?.labels?.[ZONE] ?? "-"])
  )
  const selector = Object.entries(ds.spec?.selector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",")
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items.filter(
    (p) => p.metadata?.deletionTimestamp === undefined
  )
  const byZone = new Map()
  for (const p of pods) {
    const zone = nodeZone.get(p.spec?.nodeName) ?? "-"
    const tag = (p.spec?.containers?.[0]?.image ?? "").split(":").pop()
    const key = `${tag}${isReady(p) ? "" : " (not Ready)"}`
    const counts = byZone.get(zone) ?? new Map()
    counts.set(key, (counts.get(key) ?? 0) + 1)
    byZone.set(zone, counts)
  }
  const image = ds.spec?.template?.spec?.containers?.[0]?.image ?? ""
  console.log(
    `DaemonSet ${namespace}/${name}: template ${image.split("/").pop()}, updateStrategy ${strategy?.type}${strategy?.rollingUpdate?.maxUnavailable === undefined ? "" : ` (maxUnavailable ${strategy.rollingUpdate.maxUnavailable})`}${held.length === 0 ? "" : `, Sluice annotations: ${held.map(([k]) => k).join(", ")}`}`
  )
  for (const zone of [...byZone.keys()].sort()) {
    const counts = [...byZone.get(zone).entries()].sort().map(([k, n]) => `${n} on ${k}`)
    console.log(`  ${zone.padEnd(8)} ${counts.join(", ")}`)
  }
}

try {
  if (command === "nodes") await nodes(Number(args[0]), args[1] ?? "zone-a,zone-b,zone-c")
  else if (command === "deploy") await deploy(args[0])
  else if (command === "show") await show(args[0], args[1])
  else fail(`unknown command ${command}`)
} catch (e) {
  const body = e?.body === undefined ? "" : `: ${typeof e.body === "string" ? e.body : JSON.stringify(e.body)}`
  fail(`${command} failed: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}${body}`)
}
