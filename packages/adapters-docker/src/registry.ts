/**
 * The Docker adapter's view of core's registry reader: the manifest digest a tag names (what a
 * rollout deploys by) and an image's configuration read without pulling it (for the policy gate),
 * shaped like the Engine's image inspect, which is what the policy layer normalizes.
 */
import {
  type ResolvedDigest,
  imageConfig as readImageConfig,
  manifestDigest,
  type RegistryCredentials,
  type RegistryError
} from "@sluice/core"
import { Effect, Redacted } from "effect"
import { FetchHttpClient } from "effect/http"
import type { AuthConfig } from "./auth.js"
import type { ParsedImageRef } from "./imageRef.js"
import type { Json } from "./recreate.js"

const GOARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" }

/** The Engine's X-Registry-Auth payload as core's credentials (the same secret, kept redacted). */
const credentialsOf = (auth: AuthConfig | undefined): RegistryCredentials | undefined =>
  auth?.identitytoken !== undefined
    ? { identityToken: Redacted.make(auth.identitytoken) }
    : auth?.username !== undefined && auth.password !== undefined
      ? { username: auth.username, password: Redacted.make(auth.password) }
      : undefined

/** The manifest digest the reference names now, and its config digest for a single-platform image. */
export const resolveManifestDigest = (
  ref: ParsedImageRef,
  auth: AuthConfig | undefined,
  timeoutMs: number
): Effect.Effect<ResolvedDigest, RegistryError> =>
  manifestDigest(ref, { credentials: credentialsOf(auth), timeoutMs }).pipe(
    Effect.map(({ digest, configDigest }) => (configDigest === undefined ? { digest } : { digest, configDigest })),
    Effect.provide(FetchHttpClient.layer)
  )

/** The image's configuration for this host's architecture, shaped like the Engine's image inspect. */
export const fetchImageConfig = (
  ref: ParsedImageRef,
  auth: AuthConfig | undefined,
  timeoutMs: number
): Effect.Effect<Json, RegistryError> =>
  readImageConfig(ref, GOARCH[process.arch] ?? process.arch, { credentials: credentialsOf(auth), timeoutMs }).pipe(
    Effect.map(({ manifestDigest: digest, configDigest, config }) => {
      const cfg = (config ?? {}) as Json
      return {
        Id: configDigest,
        RepoTags: ref.tag ? [ref.raw] : [],
        RepoDigests: [`${ref.fromImage}@${digest}`],
        Created: cfg.created,
        Architecture: cfg.architecture,
        Os: cfg.os,
        Config: cfg.config ?? {},
        Author: cfg.author,
        Source: "registry"
      }
    }),
    Effect.provide(FetchHttpClient.layer)
  )
