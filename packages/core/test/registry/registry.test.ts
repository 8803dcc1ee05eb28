/**
 * Core's registry reader against the real local registry (Distribution with htpasswd Basic auth):
 * the manifest digest a tag names now (the registry's own Docker-Content-Digest on push is the
 * oracle), a moved tag, an index and its platform's configuration, and the failures a rollout must
 * stop on — no credentials, refused credentials, an unknown tag, nobody listening — each a typed
 * RegistryError with its reason.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Redacted, Result } from "effect"
import { FetchHttpClient } from "effect/http"
import {
  credentialsFromDockerConfig,
  imageConfig,
  manifestDigest,
  type RegistryCredentials,
  RegistryError
} from "../../src/index.js"
import { freePort } from "../support/net.js"
import { OCI_INDEX, pushImage, pushManifest, REGISTRY, registryPassword, registryReady } from "../support/registry.js"

const REPO = `sluice/core-reader-${process.pid}`
const credentials = (): RegistryCredentials => ({ username: "sluice", password: Redacted.make(registryPassword ?? "") })
const ref = (reference: { tag?: string; digest?: string }, registry = REGISTRY) => ({
  registry,
  repository: REPO,
  ...reference
})

const run = <A>(effect: Effect.Effect<A, RegistryError, import("effect/http").HttpClient.HttpClient>) =>
  Effect.runPromiseExit(effect.pipe(Effect.provide(FetchHttpClient.layer)))

const failureOf = (exit: Exit.Exit<unknown, RegistryError>): RegistryError => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (reason === undefined || reason._tag !== "Fail") throw new Error(`expected a typed failure: ${String(exit.cause)}`)
  expect(reason.error).toBeInstanceOf(RegistryError)
  return reason.error
}

const successOf = <A>(exit: Exit.Exit<A, RegistryError>): A => {
  if (Exit.isFailure(exit)) throw new Error(`expected success: ${String(exit.cause)}`)
  return exit.value
}

describe.skipIf(!registryReady)("the registry reader against the real local registry", () => {
  it("resolves a tag to the digest the registry gave the pushed manifest, with its config digest; a moved tag to the new one", async () => {
    const first = await pushImage(REPO, "moving", `first-${Date.now()}`)
    const resolved = successOf(await run(manifestDigest(ref({ tag: "moving" }), { credentials: credentials() })))
    expect(resolved.digest).toBe(first.digest)
    expect(resolved.configDigest).toBe(first.configDigest)

    const second = await pushImage(REPO, "moving", `second-${Date.now()}`)
    expect(second.digest).not.toBe(first.digest)
    const moved = successOf(await run(manifestDigest(ref({ tag: "moving" }), { credentials: credentials() })))
    expect(moved.digest).toBe(second.digest)

    // By digest: the bytes served for the first digest still hash to it (content addressing).
    const pinned = successOf(await run(manifestDigest(ref({ digest: first.digest }), { credentials: credentials() })))
    expect(pinned.digest).toBe(first.digest)
  })

  it("an index: the digest of the index itself (no config); imageConfig reads the asked platform's configuration", async () => {
    const amd = await pushImage(REPO, "amd", `amd-${Date.now()}`, "amd64")
    const arm = await pushImage(REPO, "arm", `arm-${Date.now()}`, "arm64")
    const index = await pushManifest(
      REPO,
      "multi",
      {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: amd.digest,
            size: 1,
            platform: { os: "linux", architecture: "amd64" }
          },
          {
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            digest: arm.digest,
            size: 1,
            platform: { os: "linux", architecture: "arm64" }
          }
        ]
      },
      OCI_INDEX
    )
    const resolved = successOf(await run(manifestDigest(ref({ tag: "multi" }), { credentials: credentials() })))
    expect(resolved).toEqual({ digest: index.digest, mediaType: OCI_INDEX })

    const onArm = successOf(await run(imageConfig(ref({ tag: "multi" }), "arm64", { credentials: credentials() })))
    expect(onArm.manifestDigest).toBe(arm.digest)
    expect(onArm.configDigest).toBe(arm.configDigest)
    expect(onArm.config).toEqual(arm.config)
    const onAmd = successOf(await run(imageConfig(ref({ tag: "multi" }), "amd64", { credentials: credentials() })))
    expect(onAmd.configDigest).toBe(amd.configDigest)
  })

  it("no credentials: unauthorized, saying none were given", async () => {
    await pushImage(REPO, "private", `private-${Date.now()}`)
    const f = failureOf(await run(manifestDigest(ref({ tag: "private" }))))
    expect(f.reason).toBe("unauthorized")
    expect(f.status).toBe(401)
    expect(f.message).toContain("no credentials were given")
  })

  it("a wrong password: unauthorized, the credentials refused, the password nowhere in the error", async () => {
    const wrong = `wrong-${Date.now()}`
    const f = failureOf(
      await run(
        manifestDigest(ref({ tag: "moving" }), { credentials: { username: "sluice", password: Redacted.make(wrong) } })
      )
    )
    expect(f.reason).toBe("unauthorized")
    expect(f.message).toContain("the credentials were refused")
    expect(JSON.stringify(f)).not.toContain(wrong)
    expect(f.message).not.toContain(wrong)
  })

  it("an unknown tag: notFound naming the repository and tag", async () => {
    const f = failureOf(await run(manifestDigest(ref({ tag: "never-pushed" }), { credentials: credentials() })))
    expect(f.reason).toBe("notFound")
    expect(f.message).toContain(`${REPO}:never-pushed`)
  })

  it("nobody listening: unreachable after http and https were both tried", async () => {
    const port = await freePort()
    const f = failureOf(
      await run(
        manifestDigest(ref({ tag: "x" }, `127.0.0.1:${port}`), { credentials: credentials(), timeoutMs: 5_000 })
      )
    )
    expect(f.reason).toBe("unreachable")
    expect(f.message).toMatch(/http: .*; https: /)
  })
})

describe("credentials from a Docker config document", () => {
  const pw = (c: RegistryCredentials | undefined) =>
    c !== undefined && "password" in c ? Redacted.value(c.password) : undefined

  it("reads auth (base64 user:password) and username/password, under any of the registry's keys", () => {
    const auth = Buffer.from("robot:s3cr:et").toString("base64")
    const byAuth = credentialsFromDockerConfig(
      { auths: { "https://registry.example:5000": { auth } } },
      "registry.example:5000"
    )
    expect(Result.isSuccess(byAuth) && byAuth.success).toMatchObject({ username: "robot" })
    expect(Result.isSuccess(byAuth) ? pw(byAuth.success) : undefined).toBe("s3cr:et")
    const plain = credentialsFromDockerConfig(
      { auths: { "localhost:5000": { username: "u", password: "p" } }, credsStore: "desktop" },
      "localhost:5000"
    )
    expect(Result.isSuccess(plain) ? pw(plain.success) : undefined).toBe("p")
    const hub = credentialsFromDockerConfig({ auths: { "https://index.docker.io/v1/": { auth } } }, "docker.io")
    expect(Result.isSuccess(hub) && hub.success).toMatchObject({ username: "robot" })
    const other = credentialsFromDockerConfig({ auths: { "localhost:5000": { auth } } }, "ghcr.io")
    expect(other).toEqual(Result.succeed(undefined))
  })

  it("an unknown field in an auths entry, or auth that is not user:password, is an error naming it", () => {
    const typo = credentialsFromDockerConfig(
      { auths: { "localhost:5000": { username: "u", pasword: "p" } } },
      "localhost:5000"
    )
    expect(Result.isFailure(typo) && typo.failure).toMatch(/pasword/)
    const bad = credentialsFromDockerConfig(
      { auths: { "localhost:5000": { auth: Buffer.from("nocolon").toString("base64") } } },
      "localhost:5000"
    )
    expect(Result.isFailure(bad) && bad.failure).toMatch(/auths\["localhost:5000"\]\.auth/)
  })
})
