import { Effect, Result } from "effect"
import type { TargetAdapter } from "../adapter/TargetAdapter.js"
import type { ScanReport } from "../policy/PolicyEngine.js"
import { formatDigested, parseImageRef } from "../spec/ImageRef.js"
import type { ArtifactDigest, RolloutConfig } from "./RolloutConfig.js"

const DIGEST = /^sha256:[a-f0-9]{64}$/

/** The artifact's digest could not be resolved: the rollout does not start (nothing is touched). */
export interface DigestProblem {
  readonly message: string
}

/**
 * Resolves the artifact's digest before any gate: the spec's pinned digest, else the registry's
 * manifest digest through the adapter (`resolveDigest`). The returned config deploys by that
 * digest (its image reference names it, the tag kept for people) and records it in
 * `artifactDigest`, which the journal header stores. Without a pinned digest and without an
 * adapter that resolves one, the config is returned as is (the scan gate then says it could not
 * bind the report).
 */
export const resolveArtifactDigest = Effect.fnUntraced(function* (
  config: RolloutConfig,
  adapter: TargetAdapter["Service"]
): Effect.fn.Return<RolloutConfig, DigestProblem> {
  const image = config.artifact.image
  if (config.artifactDigest !== undefined) return config
  if (image.digest !== undefined) {
    return { ...config, artifactDigest: { digest: image.digest, source: "spec", reference: image.raw } }
  }
  if (adapter.resolveDigest === undefined) return config
  const resolved = yield* adapter.resolveDigest(image, { selector: config.selector }).pipe(
    Effect.timeout(config.operations.timeoutMs),
    Effect.mapError((e) => ({
      message: `cannot resolve the digest of ${image.raw} through the ${adapter.name} adapter: ${"message" in e ? e.message : String(e)}`
    }))
  )
  if (resolved === undefined) return config
  if (!DIGEST.test(resolved.digest) || (resolved.configDigest !== undefined && !DIGEST.test(resolved.configDigest))) {
    return yield* Effect.fail({
      message: `the ${adapter.name} adapter resolved ${image.raw} to ${JSON.stringify(resolved)}, which is not a sha256 digest`
    })
  }
  const digested = parseImageRef(formatDigested(image, resolved.digest))
  if (Result.isFailure(digested)) return yield* Effect.fail({ message: digested.failure.message })
  const artifactDigest: ArtifactDigest = {
    digest: resolved.digest,
    ...(resolved.configDigest === undefined ? {} : { configDigest: resolved.configDigest }),
    source: "registry",
    reference: image.raw
  }
  return { ...config, artifact: { ...config.artifact, image: digested.success }, artifactDigest }
})

/** Whether a scan report names the artifact's digest (its manifest digest, or its config digest). */
export const reportNames = (report: ScanReport, digest: ArtifactDigest): boolean =>
  report.digests.includes(digest.digest) ||
  (digest.configDigest !== undefined && report.digests.includes(digest.configDigest))
