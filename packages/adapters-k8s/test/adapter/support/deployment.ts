/** Deployment fixtures for the adapter tests: policy-compliant web Deployments on kwok nodes, and status readers. */
import type { V1Deployment, V1PodTemplateSpec } from "@kubernetes/client-node"
import { kube } from "../../support/cluster.js"
import { notYet, waitFor } from "../../support/wait.js"
import { containerImage, deploymentSummary, rolloutComplete } from "../../support/workloads.js"

export const WEB_IMAGE = (tag: string) => `registry.sluice.dev/apps/web:${tag}`

/** A pod template the built-in policies allow (non-root, limits, an allowed registry), optionally mounting a config volume. */
export const webTemplate = (o: {
  labels: Record<string, string>
  image: string
  pool: string
  /** Mount this ConfigMap as volume `config` at /etc/web. */
  configMap?: string
}): V1PodTemplateSpec => ({
  metadata: { labels: { ...o.labels } },
  spec: {
    nodeSelector: { "sluice.dev/pool": o.pool },
    terminationGracePeriodSeconds: 1,
    securityContext: { runAsNonRoot: true, runAsUser: 10001 },
    containers: [
      {
        name: "web",
        image: o.image,
        securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true },
        resources: { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "10m", memory: "16Mi" } },
        ...(o.configMap === undefined ? {} : { volumeMounts: [{ name: "config", mountPath: "/etc/web" }] })
      }
    ],
    ...(o.configMap === undefined ? {} : { volumes: [{ name: "config", configMap: { name: o.configMap } }] })
  }
})

export const readDeployment = (namespace: string, name: string) =>
  kube().apps.readNamespacedDeployment({ name, namespace })

/** Whether the API has no Deployment of that name. */
export const deploymentGone = async (namespace: string, name: string): Promise<boolean> =>
  kube()
    .apps.readNamespacedDeployment({ name, namespace })
    .then(
      () => false,
      (e: { code?: number }) => {
        if (e.code === 404) return true
        throw e
      }
    )

/** Waits until the Deployment's rollout is complete on `image` (every replica updated and available, nothing old left). */
export const waitRolledOut = (namespace: string, name: string, image?: string) =>
  waitFor(
    `Deployment ${namespace}/${name} rolled out${image === undefined ? "" : ` on ${image}`}`,
    async () => {
      const d = await readDeployment(namespace, name)
      return rolloutComplete(d) && (image === undefined || containerImage(d.spec?.template ?? {}) === image)
        ? d
        : notYet(deploymentSummary(d))
    },
    { timeoutMs: 90_000 }
  )

/** Creates a web Deployment and waits until it is available. */
export async function createWebDeployment(o: {
  namespace: string
  name: string
  image: string
  pool: string
  replicas?: number
  labels?: Record<string, string>
  configMap?: string
  progressDeadlineSeconds?: number
}): Promise<V1Deployment> {
  const podLabels = { app: o.name }
  await kube().apps.createNamespacedDeployment({
    namespace: o.namespace,
    body: {
      metadata: { name: o.name, labels: { ...podLabels, ...o.labels } },
      spec: {
        replicas: o.replicas ?? 2,
        selector: { matchLabels: podLabels },
        template: webTemplate({
          labels: podLabels,
          image: o.image,
          pool: o.pool,
          ...(o.configMap === undefined ? {} : { configMap: o.configMap })
        }),
        ...(o.progressDeadlineSeconds === undefined ? {} : { progressDeadlineSeconds: o.progressDeadlineSeconds })
      }
    }
  })
  return waitRolledOut(o.namespace, o.name, o.image)
}

/** The images of the non-terminating pods a label selector matches. */
export async function podImagesOf(namespace: string, labelSelector: string): Promise<string[]> {
  const pods = (await kube().core.listNamespacedPod({ namespace, labelSelector })).items
  return pods
    .filter((p) => p.metadata?.deletionTimestamp === undefined)
    .map((p) => containerImage(p) ?? "")
    .sort()
}

/** The ConfigMap the template's `config` volume points at. */
export const configMapOf = (d: V1Deployment) =>
  d.spec?.template.spec?.volumes?.find((v) => v.name === "config")?.configMap?.name
