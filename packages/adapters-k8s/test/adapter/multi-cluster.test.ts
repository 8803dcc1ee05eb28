/**
 * Many clusters in one rollout (issue 10), on two real control planes on loopback: the global
 * setup's ("east") and one this file starts ("west"), each with kwok nodes in two zones. One
 * adapter with `clusters: [east, west]`, a DaemonSet of the same name in both, and
 * `topology: { key: zone, order: sequential, groupBy: sluice.dev/cluster }`: cluster by cluster,
 * zone by zone. What the clusters saw is read from watches of their own, not from Sluice's events.
 */
import { type CoreV1Api, KubeConfig, type V1DaemonSet, type V1Pod, Watch } from "@kubernetes/client-node"
import { makeMemoryStore, type RolloutEvent } from "@sluice/core"
import { spawn } from "node:child_process"
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, expect, it } from "vitest"
import { clusterInfo, describeWithCluster, kube, uniqueSuffix } from "../support/cluster.js"
import { createKwokNodes, type KwokNodes, ZONE_LABEL } from "../support/nodes.js"
import { useSecondCluster } from "../support/second-cluster.js"
import { agentTemplate, IMAGE } from "./support/daemonset.js"
import { runRollout } from "./support/rollout.js"
import { notYet, waitFor } from "../support/wait.js"
import { asWritten } from "../support/workloads.js"

const CLI = fileURLToPath(new URL("../../../../examples/cli/dist/main.js", import.meta.url))

/** Runs the built CLI; with `killAfter`, SIGKILLs it once that many targets were applied (--json events). */
const cli = (args: ReadonlyArray<string>, cwd: string, killAfter?: number) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve, reject) => {
    const { KUBECONFIG: _k, SLUICE_STORE: _s, ...env } = process.env
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...env, NO_COLOR: "1" } })
    let applied = 0
    let output = ""
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString()
    })
    createInterface({ input: child.stdout }).on("line", (line) => {
      output += `${line}\n`
      if (killAfter === undefined || applied >= killAfter) return
      const event = JSON.parse(line) as { type?: string }
      if (event.type === "targetApplied" && ++applied === killAfter) child.kill("SIGKILL")
    })
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, output }))
  })

const NODES = 4
const ZONES = ["zone-a", "zone-b"]
const CLUSTER = "sluice.dev/cluster"

const spec = (o: { namespace: string; name: string; image: string; deadline?: string; approveBefore?: number }) => `
apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata: { name: ${o.name} }
spec:
  target:
    adapter: kubernetes
    selector: { namespace: ${o.namespace}, kind: DaemonSet, name: ${o.name} }
  artifact: { image: "${o.image}" }
  strategy: { rolling: { batchSize: 1, maxUnavailable: 1 } }
  topology: { key: ${ZONE_LABEL}, order: sequential, groupBy: ${CLUSTER} }
  health: { progressDeadline: ${o.deadline ?? "60s"}, minReadySeconds: 0 }
  gates:
    policy: { enabled: true }
    scan: { enabled: false }
    manualApproval: { before: ${o.approveBefore === undefined ? "none" : `[${o.approveBefore}]`} }
  rollback: { onFailure: true, onAbort: true }
`

interface Side {
  readonly name: "east" | "west"
  readonly kubeconfig: string
  readonly core: CoreV1Api
  readonly apps: ReturnType<typeof kube>["apps"]
  nodes: KwokNodes
}

/** Pod deletions (a deletionTimestamp appearing, or the pod gone) in both clusters, in the order they arrive. */
const watchDeletions = async (sides: ReadonlyArray<Side>, namespace: string, app: string) => {
  const seen = new Set<string>()
  const order: Array<{ cluster: string; node: string; image: string }> = []
  const controllers = await Promise.all(
    sides.map(async (side) => {
      const config = new KubeConfig()
      config.loadFromFile(side.kubeconfig)
      const initial = await side.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })
      return new Watch(config).watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { labelSelector: `app=${app}`, resourceVersion: initial.metadata?.resourceVersion ?? "" },
        (phase, pod: V1Pod) => {
          const uid = pod.metadata?.uid ?? ""
          if ((phase === "DELETED" || pod.metadata?.deletionTimestamp !== undefined) && !seen.has(uid)) {
            seen.add(uid)
            order.push({
              cluster: side.name,
              node: pod.spec?.nodeName ?? "",
              image: pod.spec?.containers[0]?.image ?? ""
            })
          }
        },
        () => undefined
      )
    })
  )
  return { order: () => [...order], stop: () => controllers.forEach((c) => c.abort()) }
}

const createDaemonSet = async (side: Side, namespace: string, name: string, image: string, annotations = {}) => {
  const labels = { app: name }
  const template = agentTemplate({ labels, image, pool: side.nodes.pools[0] ?? "" })
  await side.apps.createNamespacedDaemonSet({
    namespace,
    body: {
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: labels },
        template: { ...template, metadata: { ...template.metadata, annotations } }
      }
    }
  })
  return waitFor(
    `DaemonSet ${name} available on ${NODES} nodes of ${side.name}`,
    async () => {
      const d = await side.apps.readNamespacedDaemonSet({ name, namespace })
      const s = d.status
      return s?.numberAvailable === NODES && s.updatedNumberScheduled === NODES && s.desiredNumberScheduled === NODES
        ? d
        : notYet(s)
    },
    { timeoutMs: 150_000 }
  )
}

const podsOf = async (side: Side, namespace: string, app: string) =>
  (await side.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items
    .filter((p) => p.metadata?.deletionTimestamp === undefined)
    .map((p) => ({
      node: p.spec?.nodeName ?? "",
      image: p.spec?.containers[0]?.image ?? "",
      ready: p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false
    }))

/** Waits until the DaemonSet runs one Ready pod of `image` on each of its nodes. */
const settled = (side: Side, namespace: string, app: string, image: string) =>
  waitFor(
    `${app} on ${image} everywhere in ${side.name}`,
    async () => {
      const pods = await podsOf(side, namespace, app)
      return pods.length === NODES && pods.every((p) => p.image === image && p.ready) ? pods : notYet(pods)
    },
    { timeoutMs: 60_000 }
  )

describeWithCluster("many clusters in one rollout (kubernetes adapter, two control planes)", () => {
  const west = useSecondCluster()
  const namespace = `sluice-mc-${uniqueSuffix()}`
  const sides: Array<Side> = []
  const zoneOf = new Map<string, string>()
  let watch: Awaited<ReturnType<typeof watchDeletions>> | undefined

  beforeAll(async () => {
    const east: Side = {
      name: "east",
      kubeconfig: clusterInfo().kubeconfig ?? "",
      core: kube().core,
      apps: kube().apps,
      nodes: undefined as never
    }
    const w: Side = {
      name: "west",
      kubeconfig: west().kubeconfig,
      core: west().core,
      apps: west().apps,
      nodes: undefined as never
    }
    for (const side of [east, w]) {
      side.nodes = await createKwokNodes(NODES, { zones: ZONES, core: side.core, namePrefix: `kwok-${side.name}` })
      for (const [zone, names] of side.nodes.byZone) for (const n of names) zoneOf.set(n, zone)
      await side.core.createNamespace({ body: { metadata: { name: namespace } } })
      sides.push(side)
    }
  }, 180_000)
  afterAll(async () => {
    watch?.stop()
    for (const side of sides) {
      await side.core.deleteNamespace({ name: namespace }).catch(() => undefined)
      await side.nodes.delete().catch(() => undefined)
    }
  }, 120_000)

  const adapter = () => ({
    clusters: [
      { name: "east", kubeconfig: sides[0]!.kubeconfig },
      { name: "west", kubeconfig: sides[1]!.kubeconfig }
    ]
  })

  it("rolls a DaemonSet in both clusters cluster by cluster, zone by zone: the order of pod replacements proves it", async () => {
    const name = "agent"
    for (const side of sides) await createDaemonSet(side, namespace, name, IMAGE("1.0.0"))
    watch = await watchDeletions(sides, namespace, name)
    const run = await runRollout({
      spec: spec({ namespace, name, image: IMAGE("2.0.0") }),
      rolloutId: "mc-order",
      adapter: adapter()
    })
    expect(run.result.outcome).toBe("completed")
    expect(run.result.updated).toHaveLength(2 * NODES)
    // Targets carry their cluster: in their ids and in the label the planner grouped them by.
    expect([...run.result.updated].sort()).toEqual(
      sides.flatMap((s) => s.nodes.names.map((n) => `${s.name}/${namespace}/daemonset/${name}/${n}`)).sort()
    )
    for (const side of sides) await settled(side, namespace, name, IMAGE("2.0.0"))
    watch.stop()
    const order = watch.order()
    // Each node's v1 pod replaced exactly once...
    expect(order.every((d) => d.image === IMAGE("1.0.0"))).toBe(true)
    expect(new Set(order.map((d) => `${d.cluster}/${d.node}`)).size).toBe(2 * NODES)
    // ...east before west, zone-a before zone-b inside each.
    expect(order.map((d) => `${d.cluster}:${zoneOf.get(d.node)}`)).toEqual([
      "east:zone-a",
      "east:zone-a",
      "east:zone-b",
      "east:zone-b",
      "west:zone-a",
      "west:zone-a",
      "west:zone-b",
      "west:zone-b"
    ])
    // Both DaemonSets get their own update strategy back.
    for (const side of sides) {
      const ds = await side.apps.readNamespacedDaemonSet({ name, namespace })
      expect(ds.spec?.updateStrategy?.type).toBe("RollingUpdate")
    }
  }, 300_000)

  it("a version that never becomes Ready in cluster west rolls back what it touched in east and in west", async () => {
    const name = "agent-bad"
    const before: Array<V1DaemonSet> = []
    before.push(await createDaemonSet(sides[0]!, namespace, name, IMAGE("1.0.0")))
    // kwok's pod-never-ready-on-nodes stage: in west only, 2.0.0 never becomes Ready on any node.
    before.push(
      await createDaemonSet(sides[1]!, namespace, name, IMAGE("1.0.0"), {
        "sluice.dev/never-ready-image": "2.0.0",
        "sluice.dev/never-ready-nodes": "."
      })
    )
    watch = await watchDeletions(sides, namespace, name)
    const run = await runRollout({
      spec: spec({ namespace, name, image: IMAGE("2.0.0"), deadline: "8s" }),
      rolloutId: "mc-bad-west",
      adapter: adapter()
    })
    expect(run.result.outcome).toBe("rolledBack")
    // East was done (4 waves), then west's first wave never became healthy.
    const touched = [...run.result.touched].sort()
    expect(touched.filter((id) => id.startsWith("east/"))).toHaveLength(NODES)
    expect(touched.filter((id) => id.startsWith("west/"))).toHaveLength(1)
    expect([...run.result.rolledBack].sort()).toEqual(touched)
    for (const [i, side] of sides.entries()) {
      await settled(side, namespace, name, IMAGE("1.0.0"))
      const after = await side.apps.readNamespacedDaemonSet({ name, namespace })
      expect(after.spec?.template).toEqual(before[i]?.spec?.template)
      expect(after.spec?.updateStrategy).toEqual(before[i]?.spec?.updateStrategy)
    }
    watch.stop()
    // Only touched nodes saw deletions (forward, then back).
    const touchedNodes = new Set(touched.map((id) => `${id.split("/")[0]}/${id.split("/").at(-1)}`))
    for (const d of watch.order()) expect(touchedNodes.has(`${d.cluster}/${d.node}`)).toBe(true)
  }, 300_000)

  it("a cluster whose kubeconfig points to a closed port fails discovery naming it, and touches nothing anywhere", async () => {
    const name = "agent-gone"
    const ds = await createDaemonSet(sides[0]!, namespace, name, IMAGE("1.0.0"))
    // A copy of east's kubeconfig whose server is a port nothing listens on (port 1 on loopback).
    const dir = mkdtempSync(join(tmpdir(), "sluice-mc-"))
    const gone = join(dir, "kubeconfig")
    writeFileSync(
      gone,
      readFileSync(sides[0]!.kubeconfig, "utf8").replace(/https:\/\/127\.0\.0\.1:\d+/, "https://127.0.0.1:1")
    )
    const failure = await runRollout({
      spec: spec({ namespace, name, image: IMAGE("2.0.0") }),
      rolloutId: "mc-gone",
      adapter: { clusters: [...adapter().clusters, { name: "gone", kubeconfig: gone }] },
      operations: { retries: 1 }
    }).then(
      (run) => `outcome ${run.result.outcome}: ${run.result.reason ?? ""}`,
      (e: unknown) => String(e)
    )
    expect(failure).toMatch(/cluster gone is unreachable \(https:\/\/127\.0\.0\.1:1\)/)
    const after = await sides[0]!.apps.readNamespacedDaemonSet({ name, namespace })
    expect(asWritten(after)).toEqual(asWritten(ds))
  }, 300_000)

  it("the sluice CLI with --adapter-config clusters: plan shows the clusters, kill -9 in west's first wave, resume finishes both, no pod deleted twice", async () => {
    const name = "agent-cli"
    for (const side of sides) await createDaemonSet(side, namespace, name, IMAGE("1.0.0"))
    watch = await watchDeletions(sides, namespace, name)
    const work = mkdtempSync(join(tmpdir(), "sluice-mc-cli-"))
    // West's kubeconfig relative to the configuration file (resolved against it, kept absolute for resume).
    writeFileSync(join(work, "west.kubeconfig"), readFileSync(sides[1]!.kubeconfig, "utf8"))
    mkdirSync(join(work, "conf"))
    writeFileSync(
      join(work, "conf", "clusters.yaml"),
      `resolveDigests: false\nclusters:\n  - { name: east, kubeconfig: ${sides[0]!.kubeconfig} }\n  - { name: west, kubeconfig: ../west.kubeconfig }\n`
    )
    writeFileSync(join(work, "agent.yaml"), spec({ namespace, name, image: IMAGE("2.0.0") }))
    const store = join(work, "store")
    const plan = await cli(
      ["plan", "-f", "agent.yaml", "--adapter-config", "conf/clusters.yaml", "--store", store],
      work
    )
    expect(plan.code, plan.output).toBe(0)
    expect(plan.output).toContain("groups sluice.dev/cluster: east → west")
    const killed = await cli(
      [
        "apply",
        "-f",
        "agent.yaml",
        "--adapter-config",
        "conf/clusters.yaml",
        "--id",
        "mc-cli",
        "--store",
        store,
        "--json"
      ],
      work,
      NODES + 1
    )
    expect(killed.signal).toBe("SIGKILL")
    // Resumed from elsewhere: the stored connection names both clusters by absolute paths.
    const resumed = await cli(["resume", "mc-cli", "--store", store, "--json"], tmpdir())
    expect(resumed.code, resumed.output).toBe(0)
    expect(resumed.output).toContain("continues on the clusters it was started on: east (")
    for (const side of sides) await settled(side, namespace, name, IMAGE("2.0.0"))
    watch.stop()
    const order = watch.order()
    expect(order).toHaveLength(2 * NODES)
    expect(new Set(order.map((d) => `${d.cluster}/${d.node}`)).size).toBe(2 * NODES)
    expect(order.every((d) => d.image === IMAGE("1.0.0"))).toBe(true)
    expect(order.map((d) => d.cluster)).toEqual([...Array(NODES).fill("east"), ...Array(NODES).fill("west")])
  }, 300_000)

  it("a cluster whose apiserver stops mid-rollout fails its target naming it; east is rolled back, west untouched", async () => {
    const name = "agent-stop"
    for (const side of sides) await createDaemonSet(side, namespace, name, IMAGE("1.0.0"))
    const dir = west().dir
    if (dir === undefined) throw new Error("SLUICE_KUBECONFIG_2 without SLUICE_KUBE_DIR_2: cannot stop its apiserver")
    const westBefore = await sides[1]!.apps.readNamespacedDaemonSet({ name, namespace })
    const westPods = (await sides[1]!.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items.map(
      (p) => p.metadata?.uid
    )
    const store = makeMemoryStore()
    let stopped: Promise<void> | undefined
    let argv: Array<string> = []
    // West's first wave (index NODES) waits for an approval: west's apiserver is stopped there,
    // then the approval is sent, so west's first apply meets a cluster that does not answer.
    const onEvent = (e: RolloutEvent) => {
      if (e.type !== "awaitingApproval" || e.wave !== NODES || stopped !== undefined) return
      stopped = (async () => {
        const pidFile = join(dir, "pids", "kube-apiserver.pid")
        const pid = Number(readFileSync(pidFile, "utf8").trim())
        // Its exact command line, to start it again afterwards (same etcd, so same objects).
        argv = readFileSync(`/proc/${pid}/cmdline`, "utf8")
          .split("\0")
          .filter((a) => a !== "")
        process.kill(pid, "SIGKILL")
        await waitFor("west's apiserver to be gone", async () => {
          try {
            process.kill(pid, 0)
            return notYet("alive")
          } catch {
            return true
          }
        })
        await Effect.runPromise(store.sendControl("mc-stop", { id: "approve-west", signal: "APPROVE", at: Date.now() }))
      })()
    }
    const run = await runRollout({
      spec: spec({ namespace, name, image: IMAGE("2.0.0"), deadline: "8s", approveBefore: NODES }),
      rolloutId: "mc-stop",
      adapter: adapter(),
      store,
      onEvent,
      operations: { retries: 2 }
    })
    await stopped
    // West's apiserver started again (its exact command line, the same etcd) before anything is
    // checked, so a failed expectation does not leave the cluster without one.
    if (argv.length > 0) {
      const log = openSync(join(dir, "logs", "kube-apiserver.log"), "a")
      const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ["ignore", log, log] })
      child.unref()
      closeSync(log)
      writeFileSync(join(dir, "pids", "kube-apiserver.pid"), `${child.pid}\n`)
    }
    expect(argv.length).toBeGreaterThan(0)
    // Its target's apply failed before it changed anything, but with the apiserver gone the
    // rollback cannot prove that target is on its previous revision: rollbackFailed, naming west.
    expect(run.result.outcome).toBe("rollbackFailed")
    expect(run.result.reason).toMatch(/cluster west is unreachable \(https:\/\/127\.0\.0\.1:\d+\)/)
    const touchedWest = run.result.touched.filter((id) => id.startsWith("west/"))
    expect(touchedWest).toHaveLength(1)
    // Every east target was touched and is back; east runs v1 everywhere again.
    const touchedEast = run.result.touched.filter((id) => id.startsWith("east/"))
    expect(touchedEast).toHaveLength(NODES)
    expect([...run.result.rolledBack].sort()).toEqual([...touchedEast].sort())
    await settled(sides[0]!, namespace, name, IMAGE("1.0.0"))
    // West: the DaemonSet and its pods exactly as before.
    const westAfter = await waitFor("west's apiserver back", async () => {
      try {
        return await sides[1]!.apps.readNamespacedDaemonSet({ name, namespace })
      } catch (e) {
        return notYet(String(e))
      }
    })
    expect(asWritten(westAfter)).toEqual(asWritten(westBefore))
    const westPodsAfter = (await sides[1]!.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items
    expect(westPodsAfter.map((p) => p.metadata?.uid).sort()).toEqual([...westPods].sort())
  }, 300_000)
})
