/**
 * The cosign verifier's fail-closed answers that need no registry (issue 12): a key or keyless roots it cannot read,
 * a digest that is not sha256, a registry nobody answers at. Each is a typed SignatureError naming
 * the digest (the gate denies with it). Verification against real cosign signatures in a real
 * registry: packages/adapters-docker/test/suites/signature.suite.ts.
 */
import { generateKeyPairSync } from "node:crypto"
import { describe, expect, it } from "@effect/vitest"
import { type SignatureRequest, SignatureVerifier } from "@sluice/core"
import { Effect, Exit, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { freePort } from "../../../core/test/support/net.js"
import { CosignSignatureVerifier, keyFingerprint } from "../../src/index.js"

const DIGEST = `sha256:${"c".repeat(64)}`
const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
const PEM = publicKey.export({ type: "spki", format: "pem" }).toString()

const verify = (request: SignatureRequest) =>
  Effect.runPromiseExit(
    Effect.flatMap(Effect.service(SignatureVerifier), (v) => v.verify(request)).pipe(
      Effect.provide(CosignSignatureVerifier.layer({ timeoutMs: 5_000 }).pipe(Layer.provide(FetchHttpClient.layer)))
    )
  )

const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected the verification to fail")
  const e = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (e === undefined || e._tag !== "Fail") throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return e.error as { _tag: string; reason: string; digest: string; message: string }
}

describe("CosignSignatureVerifier fails closed", () => {
  it("an unreachable registry: reason unreachable, naming the digest", async () => {
    const port = await freePort()
    const f = failureOf(
      await verify({
        image: `127.0.0.1:${port}/agents/agent:2`,
        registry: `127.0.0.1:${port}`,
        repository: "agents/agent",
        digest: DIGEST,
        trust: { publicKey: PEM }
      })
    )
    expect(f).toMatchObject({ _tag: "SignatureError", reason: "unreachable", digest: DIGEST })
    expect(f.message).toContain(DIGEST)
  })

  it("a key that is not a public key: reason malformed", async () => {
    const f = failureOf(
      await verify({
        image: "localhost:1/a:1",
        registry: "localhost:1",
        repository: "a",
        digest: DIGEST,
        trust: { publicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n" }
      })
    )
    expect(f).toMatchObject({ reason: "malformed", digest: DIGEST })
  })

  it("keyless roots that are not certificates, or a subjectRegExp that does not compile: reason malformed", async () => {
    const request = (keyless: { roots: string; subjectRegExp: string }) =>
      verify({
        image: "localhost:1/a:1",
        registry: "localhost:1",
        repository: "a",
        digest: DIGEST,
        trust: { keyless: { issuer: "https://issuer.example.com", ...keyless } }
      })
    const roots = await request({
      roots: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      subjectRegExp: ".+"
    })
    expect(failureOf(roots)).toMatchObject({ reason: "malformed", digest: DIGEST })
    expect(failureOf(roots).message).toContain("keyless roots")
    const regexp = await request({ roots: PEM, subjectRegExp: "(" })
    expect(failureOf(regexp)).toMatchObject({ reason: "malformed", digest: DIGEST })
    expect(failureOf(regexp).message).toContain("Invalid regular expression")
  })

  it("a digest that is not sha256: reason malformed", async () => {
    const f = failureOf(
      await verify({
        image: "localhost:1/a:1",
        registry: "localhost:1",
        repository: "a",
        digest: "md5:abc",
        trust: { publicKey: PEM }
      })
    )
    expect(f).toMatchObject({ reason: "malformed" })
  })

  it("the signer's fingerprint is the sha256 of the key's DER SubjectPublicKeyInfo", () => {
    expect(keyFingerprint(publicKey)).toMatch(/^sha256:[a-f0-9]{64}$/)
  })
})
