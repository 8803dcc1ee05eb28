/** The real Deployment and ReplicaSet controllers, on kwok nodes. */
import type { V1Deployment, V1ReplicaSet } from "@kubernetes/client-node"
import { expect, it } from "vitest"
import { describeWithCluster, kube, mergePatch, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import { containerImage, deploymentSummary, isPodReady, podTemplate, rolloutComplete } from "../support/workloads.js"

const NAME = "web"
const LABELS = { app: NAME }

describeWithCluster("Deployment on the test control plane", () => {
  const nodes = useKwokNodes(3, { zones: ["zone-a", "zone-b", "zone-c"] })
  const ns = useTestNamespace("sluice-deploy")
  const pool = () => nodes().pools[0] as string

  const readDeployment = () => kube().apps.readNamespacedDeployment({ name: NAME, namespace: ns() })
  const waitRolledOut = (what: string) =>
    waitFor(what, async () => {
      const d = await readDeployment()
      return rolloutComplete(d) ? d : notYet(deploymentSummary(d))
    })
  const ownedReplicaSets = async (d: V1Deployment): Promise<V1ReplicaSet[]> => {
    const list = await kube().apps.listNamespacedReplicaSet({ namespace: ns(), labelSelector: `app=${NAME}` })
    return list.items.filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid))
  }

  it("scaled from 1 to 5 replicas, becomes available with 5 Ready pods", async () => {
    const { apps, core } = kube()
    await apps.createNamespacedDeployment({
      namespace: ns(),
      body: {
        metadata: { name: NAME },
        spec: {
          replicas: 1,
          selector: { matchLabels: LABELS },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: podTemplate({ labels: LABELS, image: "registry.invalid/web:1.0.0", pool: pool() })
        }
      }
    })
    await waitRolledOut("1 replica to be available")

    await apps.patchNamespacedDeploymentScale(
      { name: NAME, namespace: ns(), body: { spec: { replicas: 5 } } },
      mergePatch
    )
    const d = await waitRolledOut("5 replicas to be available")

    expect(d.status?.availableReplicas).toBe(5)
    expect(d.status?.conditions?.find((c) => c.type === "Available")?.status).toBe("True")
    const pods = await core.listNamespacedPod({ namespace: ns(), labelSelector: `app=${NAME}` })
    expect(pods.items).toHaveLength(5)
    expect(pods.items.every(isPodReady)).toBe(true)
    expect(new Set(pods.items.map((p) => p.spec?.nodeName)).size).toBeGreaterThan(1)
  })

  it("rolls an image change through a new ReplicaSet and scales the old one to zero", async () => {
    const { apps, core } = kube()
    const before = await readDeployment()
    const [oldRs] = await ownedReplicaSets(before)
    expect(oldRs).toBeDefined()

    await apps.patchNamespacedDeployment(
      {
        name: NAME,
        namespace: ns(),
        body: { spec: { template: { spec: { containers: [{ name: "app", image: "registry.invalid/web:2.0.0" }] } } } }
      },
      mergePatch
    )
    const after = await waitFor("the rollout to 2.0.0 to complete", async () => {
      const d = await readDeployment()
      return rolloutComplete(d) && containerImage(d.spec?.template ?? {}) === "registry.invalid/web:2.0.0"
        ? d
        : notYet(deploymentSummary(d))
    })

    expect(after.metadata?.annotations?.["deployment.kubernetes.io/revision"]).toBe("2")
    expect(after.status?.conditions?.find((c) => c.type === "Progressing")?.reason).toBe("NewReplicaSetAvailable")

    const sets = await ownedReplicaSets(after)
    expect(sets).toHaveLength(2)
    const oldNow = sets.find((rs) => rs.metadata?.uid === oldRs?.metadata?.uid)
    const newRs = sets.find((rs) => rs.metadata?.uid !== oldRs?.metadata?.uid)
    expect(containerImage(oldNow?.spec?.template ?? {})).toBe("registry.invalid/web:1.0.0")
    expect(oldNow?.spec?.replicas).toBe(0)
    expect(oldNow?.status?.replicas ?? 0).toBe(0)
    expect(containerImage(newRs?.spec?.template ?? {})).toBe("registry.invalid/web:2.0.0")
    expect(newRs?.spec?.replicas).toBe(5)
    expect(newRs?.status?.readyReplicas).toBe(5)

    // The old pods finished terminating (kwok pod-delete stage); only new ones remain, all Ready.
    const pods = await waitFor("old pods to be gone", async () => {
      const list = await core.listNamespacedPod({ namespace: ns(), labelSelector: `app=${NAME}` })
      return list.items.length === 5
        ? list.items
        : notYet(list.items.map((p) => `${p.metadata?.name} ${containerImage(p)}`))
    })
    const newHash = newRs?.metadata?.labels?.["pod-template-hash"]
    expect(pods.map((p) => p.metadata?.labels?.["pod-template-hash"])).toEqual(Array(5).fill(newHash))
    expect(pods.map(containerImage)).toEqual(Array(5).fill("registry.invalid/web:2.0.0"))
    expect(pods.every(isPodReady)).toBe(true)
  })
})
