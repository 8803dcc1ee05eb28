import type { V1ConfigMap, V1PodTemplateSpec } from "@kubernetes/client-node"
import { type Artifact, artifactConfigHash, canonicalJson, containersForImage } from "@sluice/core"
import { CONFIG_LABEL } from "./annotations.js"
import type { TargetData } from "./targets.js"

/** Pod template annotation: the artifact config hash this template carries (`Revision.configHash`). */
export const CONFIG_HASH_ANNOTATION = "rollouts.sluice.dev/config-hash"

/** Which containers of a pod spec run the artifact: the selector's `container`, else core's rule. */
export const chosenContainers = (
  containers: ReadonlyArray<{ readonly name: string; readonly image?: string }>,
  image: string,
  container: string | undefined
): ReadonlyArray<boolean> =>
  container === undefined ? containersForImage(containers, image) : containers.map((c) => c.name === container)

/** The image a target runs now, as a revision names it: the chosen container's, else the first one's. */
export const currentImage = (
  containers: ReadonlyArray<{ readonly name: string; readonly image?: string }>,
  container: string | undefined
): string => {
  const c = container === undefined ? containers[0] : containers.find((x) => x.name === container)
  return c?.image ?? ""
}

/** The immutable ConfigMap that carries an artifact's config files: named by their hash, so equal content is one object. */
export const configMapFor = (d: TargetData, artifact: Artifact): V1ConfigMap | undefined => {
  const files = artifact.config?.files
  if (files === undefined || d.configVolume === undefined) return undefined
  const hash = artifactConfigHash(artifact.config ?? {}).slice(0, 10)
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `${d.name}-sluice-${hash}`.slice(0, 253),
      namespace: d.namespace,
      labels: { [CONFIG_LABEL]: d.name }
    },
    immutable: true,
    data: { ...files }
  }
}

/**
 * The pod template once the artifact is applied: the chosen containers' image (and env), the config
 * volume pointed at the artifact's ConfigMap, and the config hash annotation. Pure; everything else
 * of the template is kept as it is, so a rollback to the old template is exact.
 */
export const renderTemplate = (
  template: V1PodTemplateSpec,
  artifact: Artifact,
  d: TargetData
): { template: V1PodTemplateSpec; missing?: string } => {
  const spec = template.spec
  if (spec === undefined) return { template, missing: "the workload has no pod template spec" }
  const image = artifact.image.raw
  const chosen = chosenContainers(spec.containers, image, d.container)
  if (!chosen.some(Boolean)) {
    return {
      template,
      missing: `no container named "${d.container}" (has: ${spec.containers.map((c) => c.name).join(", ")})`
    }
  }
  const env = artifact.config?.env
  const containers = spec.containers.map((c, i) => {
    if (!chosen[i]) return c
    if (env === undefined) return { ...c, image }
    const kept = (c.env ?? []).filter((e) => !(e.name in env))
    return { ...c, image, env: [...kept, ...Object.entries(env).map(([name, value]) => ({ name, value }))] }
  })
  const cm = configMapFor(d, artifact)
  let volumes = spec.volumes
  if (cm !== undefined) {
    const found = (volumes ?? []).some((v) => v.name === d.configVolume)
    if (!found) return { template, missing: `no volume named "${d.configVolume}" in the pod template` }
    volumes = (volumes ?? []).map((v) =>
      v.name === d.configVolume
        ? { name: v.name, configMap: { ...(v.configMap ?? {}), name: cm.metadata?.name ?? "" } }
        : v
    )
  }
  const annotations =
    artifact.config === undefined
      ? template.metadata?.annotations
      : { ...(template.metadata?.annotations ?? {}), [CONFIG_HASH_ANNOTATION]: artifactConfigHash(artifact.config) }
  return {
    template: {
      ...template,
      metadata: { ...(template.metadata ?? {}), ...(annotations === undefined ? {} : { annotations }) },
      spec: { ...spec, containers, ...(volumes === undefined ? {} : { volumes }) }
    }
  }
}

/** Whether two templates are the same for rollout purposes (canonical JSON, so key order does not matter). */
export const sameTemplate = (a: V1PodTemplateSpec | undefined, b: V1PodTemplateSpec | undefined) =>
  canonicalJson(a ?? null) === canonicalJson(b ?? null)

/** Whether a template already runs the artifact (the chosen containers' image and the config hash). */
export const isRendered = (template: V1PodTemplateSpec | undefined, artifact: Artifact, d: TargetData): boolean => {
  const containers = template?.spec?.containers ?? []
  const chosen = chosenContainers(containers, artifact.image.raw, d.container)
  if (!chosen.some(Boolean)) return false
  if (containers.some((c, i) => chosen[i] && c.image !== artifact.image.raw)) return false
  const want = artifact.config === undefined ? undefined : artifactConfigHash(artifact.config)
  return want === undefined || template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] === want
}
