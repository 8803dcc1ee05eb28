import { type ImageRef, imageName, parseImageRef as parseReference, registryConfigKeys } from "@sluice/core"
import { Result } from "effect"

/**
 * An image reference as core parses it (`agent` → registry `docker.io`, repository `library/agent`),
 * plus what the Engine's pull takes.
 */
export interface ParsedImageRef extends ImageRef {
  /** What to give the Engine's `fromImage` (`localhost:5000/sluice/agent`, `agent` stays `agent`). */
  readonly fromImage: string
}

export const DOCKER_HUB = "docker.io"

/**
 * Core's parser (one grammar for the spec, the planner and the adapters); `undefined` when the
 * text is not a reference. `registry-1.docker.io`, the Hub's API host, is reported as `docker.io`
 * here (not in core, where it would change how the spec's image compares) so that credentials
 * stored for the Hub are found for it.
 */
export const parseImageRef = (raw: string): ParsedImageRef | undefined => {
  const parsed = parseReference(raw.trim())
  if (Result.isFailure(parsed)) return undefined
  const ref = parsed.success
  return {
    ...ref,
    registry: ref.registry === "registry-1.docker.io" ? DOCKER_HUB : ref.registry,
    fromImage: imageName(ref)
  }
}

/** Kubernetes' default: always pull `:latest` and untagged references, otherwise only when missing. */
export const defaultPullsAlways = (ref: ParsedImageRef): boolean =>
  ref.digest === undefined && (ref.tag === undefined || ref.tag === "latest")

/** The keys Docker's config.json may file a registry's credentials under (core's rule). */
export const configKeysFor = registryConfigKeys
