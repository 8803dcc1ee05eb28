import { imageRepository } from "../spec/ImageRef.js"
import type { WorkloadSource } from "./Target.js"

type Json = Record<string, unknown>
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * Which containers a rollout of `image` updates: those that run the artifact's repository
 * (normalized: `agent:1` and `docker.io/library/agent:2` are one repository), or the first one when
 * none does. One rule for every adapter and for the policy gate's rendering.
 */
export const containersForImage = (containers: ReadonlyArray<unknown>, image: string): ReadonlyArray<boolean> => {
  const repo = imageRepository(image)
  const matches = containers.map((c) => isObject(c) && typeof c.image === "string" && imageRepository(c.image) === repo)
  const any = matches.some(Boolean)
  return matches.map((m, i) => m || (!any && i === 0))
}

/** Replaces the image of the containers that run the artifact's repository (or the first one). */
const swapContainers = (containers: unknown, image: string): unknown => {
  if (!Array.isArray(containers) || containers.length === 0) return containers
  const chosen = containersForImage(containers, image)
  return containers.map((c, i) => (isObject(c) && chosen[i] ? { ...c, image } : c))
}

const swapPodSpec = (spec: unknown, image: string): unknown =>
  isObject(spec) ? { ...spec, containers: swapContainers(spec.containers, image) } : spec

/**
 * The workload as it will look once the artifact is applied: what the policy gate must judge,
 * since a rollout is allowed or denied for what it is about to run, not for what runs now.
 */
export const withImage = (workload: WorkloadSource, image: string): WorkloadSource => {
  switch (workload.source) {
    case "normalized": {
      const w = workload.workload
      return isObject(w)
        ? { source: "normalized", workload: { ...w, containers: swapContainers(w.containers, image) } }
        : workload
    }
    case "kubernetes": {
      const o = workload.object
      if (!isObject(o) || !isObject(o.spec)) return workload
      if (o.kind === "Pod") return { source: "kubernetes", object: { ...o, spec: swapPodSpec(o.spec, image) } }
      const template = o.spec.template
      if (!isObject(template)) return workload
      return {
        source: "kubernetes",
        object: { ...o, spec: { ...o.spec, template: { ...template, spec: swapPodSpec(template.spec, image) } } }
      }
    }
    case "docker": {
      const c = workload.container
      if (!isObject(c)) return workload
      const config = isObject(c.Config) ? { ...c.Config, Image: image } : { Image: image }
      const { image: _oldImage, ...rest } = workload
      return { ...rest, container: { ...c, Config: config, Image: image } }
    }
  }
}
