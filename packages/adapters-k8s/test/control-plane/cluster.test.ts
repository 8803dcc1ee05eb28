/**
 * The test control plane itself: the pinned kube-apiserver on loopback, kwok-simulated nodes and
 * the kwok stages that drive pod readiness and termination (scripts/kube/stages/*.yaml).
 */
import { expect, it } from "vitest"
import { clusterInfo, describeWithCluster, kube, uniqueSuffix, useTestNamespace } from "../support/cluster.js"
import { POOL_LABEL, ZONE_LABEL, useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { NEVER_READY_LABEL, isPodReady, podTemplate } from "../support/workloads.js"

describeWithCluster("test control plane (kube-apiserver + kwok on loopback)", () => {
  const nodes = useKwokNodes(3, {
    zones: ["zone-a", "zone-b"],
    pools: ["a", "b", "c"].map((p) => `cp-${p}-${uniqueSuffix()}`)
  })
  const ns = useTestNamespace("sluice-cp")

  it("serves the pinned Kubernetes version, only on 127.0.0.1", async () => {
    const { version, config } = kube()
    const info = await version.getCode()
    expect(info.gitVersion).toBe(clusterInfo().kubeVersion)
    expect(new URL(config.getCurrentCluster()?.server ?? "").hostname).toBe("127.0.0.1")
  })

  it("labels kwok nodes with zone and pool round-robin and kwok makes them Ready", async () => {
    const { core } = kube()
    const listed = await Promise.all(nodes().names.map((name) => core.readNode({ name })))
    expect(listed.map((n) => n.metadata?.labels?.[ZONE_LABEL])).toEqual(["zone-a", "zone-b", "zone-a"])
    expect(listed.map((n) => n.metadata?.labels?.[POOL_LABEL])).toEqual(nodes().pools)
    for (const n of listed) {
      expect(n.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True")
    }
  })

  it("schedules a pod onto a kwok node, runs it to Ready with a pod IP, and lets it finish terminating on delete", async () => {
    const { core } = kube()
    const pool = nodes().pools[1] as string
    const template = podTemplate({ labels: { app: "probe" }, image: "registry.invalid/probe:1", pool })
    await core.createNamespacedPod({
      namespace: ns(),
      body: { metadata: { name: "probe", ...template.metadata }, spec: template.spec }
    })

    const pod = await waitFor("pod probe to be Ready", async () => {
      const p = await core.readNamespacedPod({ name: "probe", namespace: ns() })
      return isPodReady(p) ? p : notYet(p.status)
    })
    expect(pod.spec?.nodeName).toBe(nodes().byPool.get(pool)?.[0])
    expect(pod.status?.phase).toBe("Running")
    expect(pod.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/)

    // Graceful delete: the API server only sets deletionTimestamp; the pod-delete stage completes it.
    await core.deleteNamespacedPod({ name: "probe", namespace: ns(), gracePeriodSeconds: 30 })
    await waitFor("pod probe to be gone", async () => {
      const pods = await core.listNamespacedPod({ namespace: ns(), fieldSelector: "metadata.name=probe" })
      return pods.items.length === 0 ? true : notYet(pods.items.map((p) => p.metadata?.deletionTimestamp))
    })
  })

  it(`runs pods labelled ${NEVER_READY_LABEL}=true but never marks them Ready`, async () => {
    const { core } = kube()
    // Several pods, so a stage that only sometimes honoured the label could not pass by luck.
    const count = 12
    const template = podTemplate({
      labels: { app: "broken" },
      image: "registry.invalid/broken:1",
      pool: nodes().pools[2] as string,
      neverReady: true
    })
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        core.createNamespacedPod({
          namespace: ns(),
          body: { metadata: { name: `broken-${i}`, ...template.metadata }, spec: template.spec }
        })
      )
    )

    const pods = await waitFor(`${count} never-ready pods to be Running`, async () => {
      const list = await core.listNamespacedPod({ namespace: ns(), labelSelector: "app=broken" })
      const running = list.items.filter((p) => p.status?.phase === "Running")
      return running.length === count ? running : notYet(list.items.map((p) => p.status?.phase))
    })
    expect(pods.filter(isPodReady).map((p) => p.metadata?.name)).toEqual([])
    for (const pod of pods) {
      expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("False")
      expect(pod.status?.containerStatuses?.map((c) => c.ready)).toEqual([false])
      expect(pod.status?.podIP).toBeTruthy()
    }
  })
})
