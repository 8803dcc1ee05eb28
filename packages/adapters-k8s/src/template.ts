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

/**
 * The ConfigMap key of a config file. Keys may only hold `[-._a-zA-Z0-9]` and the spec's file
 * paths are absolute, so the path is flattened (`/etc/agent/agent.yaml` → `etc_agent_agent.yaml`);
 * the volume's `items` put each key back at its path inside the mount (see {@link renderTemplate}).
 */
export const configKey = (path: string): string => path.replace(/^\/+/, "").replace(/[^-._a-zA-Z0-9]/g, "_")

/**
 * Where a config file lands inside the config volume: the path relative to a mount of the volume
 * (honouring its `subPath`), or `undefined` when no mount of the volume covers the path.
 */
const pathInVolume = (
  path: string,
  mounts: ReadonlyArray<{ readonly mountPath: string; readonly subPath?: string }>
): string | undefined => {
  for (const m of mounts) {
    const root = m.mountPath.replace(/\/+$/, "")
    const sub = (m.subPath ?? "").replace(/^\/+|\/+$/g, "")
    if (path === root && sub !== "") return sub
    if (path.startsWith(`${root}/`)) {
      const rest = path.slice(root.length + 1)
      return sub === "" ? rest : `${sub}/${rest}`
    }
  }
  return undefined
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
    data: Object.fromEntries(Object.entries(files).map(([path, content]) => [configKey(path), content]))
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
    // The chosen containers' mounts of the volume first: they decide where each file lands.
    const mounts = [...spec.containers.filter((_, i) => chosen[i]), ...spec.containers.filter((_, i) => !chosen[i])]
      .flatMap((c) => c.volumeMounts ?? [])
      .filter((m) => m.name === d.configVolume)
    const items: Array<{ key: string; path: string }> = []
    for (const path of Object.keys(artifact.config?.files ?? {}).sort()) {
      const inVolume = pathInVolume(path, mounts)
      if (inVolume === undefined)
        return {
          template,
          missing: `config file ${path} is not inside a mount of volume "${d.configVolume}" (mounted at: ${mounts.map((m) => m.mountPath).join(", ") || "nowhere"})`
        }
      if (items.some((i) => i.key === configKey(path)))
        return { template, missing: `config files ${path} and another one map to the same ConfigMap key` }
      items.push({ key: configKey(path), path: inVolume })
    }
    volumes = (volumes ?? []).map((v) =>
      v.name === d.configVolume
        ? { name: v.name, configMap: { ...(v.configMap ?? {}), name: cm.metadata?.name ?? "", items } }
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
