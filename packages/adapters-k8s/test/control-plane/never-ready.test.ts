/** A version whose pods never become Ready stalls a real rollout until ProgressDeadlineExceeded. */
import { expect, it } from "vitest"
import { describeWithCluster, kube, mergePatch, useTestNamespace } from "../support/cluster.js"
import { useKwokNodes } from "../support/nodes.js"
import { notYet, waitFor } from "../support/wait.js"
import {
  NEVER_READY_LABEL,
  containerImage,
  deploymentCondition,
  deploymentSummary,
  isPodReady,
  podTemplate,
  rolloutComplete
} from "../support/workloads.js"

const NAME = "api"
const LABELS = { app: NAME }
const GOOD = "registry.invalid/api:1"
const BROKEN = "registry.invalid/api:2-broken"

describeWithCluster("never-ready version on the test control plane", () => {
  const nodes = useKwokNodes(2)
  const ns = useTestNamespace("sluice-stuck")

  const read = () => kube().apps.readNamespacedDeployment({ name: NAME, namespace: ns() })

  it("stays unavailable and the Deployment reports ProgressDeadlineExceeded while the old version keeps serving", async () => {
    const { apps, core } = kube()
    const pool = nodes().pools[0] as string
    await apps.createNamespacedDeployment({
      namespace: ns(),
      body: {
        metadata: { name: NAME },
        spec: {
          replicas: 3,
          progressDeadlineSeconds: 8,
          selector: { matchLabels: LABELS },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          template: podTemplate({ labels: LABELS, image: GOOD, pool })
        }
      }
    })
    await waitFor("the good version to be available", async () => {
      const d = await read()
      return rolloutComplete(d) ? d : notYet(deploymentSummary(d))
    })

    // New version: same pods, but labelled never-ready (kwok stage pod-never-ready).
    await apps.patchNamespacedDeployment(
      {
        name: NAME,
        namespace: ns(),
        body: {
          spec: {
            template: {
              metadata: { labels: { [NEVER_READY_LABEL]: "true" } },
              spec: { containers: [{ name: "app", image: BROKEN }] }
            }
          }
        }
      },
      mergePatch
    )
    const stalled = await waitFor("ProgressDeadlineExceeded", async () => {
      const d = await read()
      return deploymentCondition(d, "Progressing")?.reason === "ProgressDeadlineExceeded"
        ? d
        : notYet(deploymentSummary(d))
    })

    expect(deploymentCondition(stalled, "Progressing")?.status).toBe("False")
    // maxUnavailable 0: the 3 old pods keep the Deployment available; the 1 surged new pod never gets Ready.
    expect(stalled.status?.updatedReplicas).toBe(1)
    expect(stalled.status?.availableReplicas).toBe(3)
    expect(stalled.status?.unavailableReplicas).toBe(1)

    const pods = (await core.listNamespacedPod({ namespace: ns(), labelSelector: `app=${NAME}` })).items
    const broken = pods.filter((p) => containerImage(p) === BROKEN)
    const good = pods.filter((p) => containerImage(p) === GOOD)
    expect(broken).toHaveLength(1)
    expect(broken[0]?.status?.phase).toBe("Running")
    expect(broken.some(isPodReady)).toBe(false)
    expect(good).toHaveLength(3)
    expect(good.every(isPodReady)).toBe(true)
  })

  it("a Deployment created with a never-ready version never becomes Available", async () => {
    const { apps } = kube()
    await apps.createNamespacedDeployment({
      namespace: ns(),
      body: {
        metadata: { name: "fresh" },
        spec: {
          replicas: 6,
          progressDeadlineSeconds: 8,
          selector: { matchLabels: { app: "fresh" } },
          template: podTemplate({
            labels: { app: "fresh" },
            image: BROKEN,
            pool: nodes().pools[0] as string,
            neverReady: true
          })
        }
      }
    })
    const stalled = await waitFor("ProgressDeadlineExceeded", async () => {
      const d = await apps.readNamespacedDeployment({ name: "fresh", namespace: ns() })
      return deploymentCondition(d, "Progressing")?.reason === "ProgressDeadlineExceeded"
        ? d
        : notYet(deploymentSummary(d))
    })
    expect(stalled.status?.replicas).toBe(6)
    expect(stalled.status?.availableReplicas ?? 0).toBe(0)
    expect(deploymentCondition(stalled, "Available")?.status).toBe("False")
  })
})
