/**
 * The keyless trust's certificate checks (issue 12) on certificates made by the real openssl, shaped
 * like Fulcio's: the path to the operator's roots through cosign's chain annotation, validity at the
 * time of verification, the code-signing EKU, the OIDC issuer (current and legacy extension) and the
 * SAN, exact or by an anchored regular expression. The signature over the payload and the registry
 * are tested end to end with the real cosign in packages/adapters-docker/test/suites/keyless.suite.ts.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { KeylessIdentity } from "@sluice/core"
import { afterAll, describe, expect, it } from "vitest"
import {
  COSIGN_CERTIFICATE_ANNOTATION,
  COSIGN_CHAIN_ANNOTATION,
  checkCertificate,
  keylessTrust
} from "../../src/signature/keyless.js"
import { makeCa } from "./pki.js"

const ISSUER = "https://issuer.example.com"
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sluice-keyless-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const ca = makeCa(path.join(dir, "trusted"), "Trusted")
const other = makeCa(path.join(dir, "other"), "Other")
const good = ca.leaf("good", { san: "email:ci@example.com", issuer: ISSUER })
const uri = ca.leaf("uri", {
  san: "URI:https://ci.example.com/pipelines/agent",
  issuer: ISSUER,
  issuerExtensions: "v1"
})
const now = new Date()

const identity = (over: Partial<KeylessIdentity> = {}): KeylessIdentity => ({
  issuer: ISSUER,
  subject: "ci@example.com",
  roots: ca.root.pem,
  ...over
})
const byRegExp = (subjectRegExp: string): KeylessIdentity => ({ issuer: ISSUER, subjectRegExp, roots: ca.root.pem })
/** A layer's annotations; `chain` null: no chain annotation. */
const layer = (leafPem: string, chain: string | null = ca.intermediate.pem) => ({
  [COSIGN_CERTIFICATE_ANNOTATION]: leafPem,
  ...(chain === null ? {} : { [COSIGN_CHAIN_ANNOTATION]: chain })
})
const check = (id: KeylessIdentity, annotations: Record<string, string> | undefined, at = now) =>
  checkCertificate(keylessTrust(id), annotations, at)
const problemOf = (r: ReturnType<typeof check>) => {
  if (!("problem" in r)) throw new Error(`expected a problem, the certificate was accepted for ${r.signer.subject}`)
  return r.problem
}

describe("the keyless trust", () => {
  it("accepts a leaf that chains to a root through the signature's chain, for the issuer and subject", () => {
    const r = check(identity(), layer(good.pem, fs.readFileSync(ca.chain, "utf8")))
    if ("problem" in r) throw new Error(r.problem)
    expect(r.signer).toMatchObject({ kind: "certificate", issuer: ISSUER, subject: "ci@example.com" })
    expect(r.signer.certificate).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(r.key.asymmetricKeyType).toBe("ec")
  })

  it("reads the legacy issuer extension and a URI SAN; a regular expression must match the whole SAN", () => {
    const r = check(byRegExp("https://ci\\.example\\.com/pipelines/.+"), layer(uri.pem))
    if ("problem" in r) throw new Error(r.problem)
    expect(r.signer).toMatchObject({ issuer: ISSUER, subject: "https://ci.example.com/pipelines/agent" })
    // Unanchored, `https://ci\.example\.com/pipelines` would match; anchored it is only a prefix.
    const prefix = check(byRegExp("https://ci\\.example\\.com/pipelines"), layer(uri.pem))
    expect(problemOf(prefix)).toContain("https://ci.example.com/pipelines/agent")
  })

  it("denies another subject or another issuer, naming what the certificate carries", () => {
    expect(problemOf(check(identity({ subject: "release@example.com" }), layer(good.pem)))).toMatch(
      /issued to "ci@example\.com", not to "release@example\.com"/
    )
    expect(problemOf(check(identity({ issuer: "https://other.example.com" }), layer(good.pem)))).toMatch(
      /OIDC issuer "https:\/\/issuer\.example\.com".*not by "https:\/\/other\.example\.com"/
    )
  })

  it("denies a leaf of another CA, and one whose intermediate is neither in the chain nor trusted", () => {
    const stranger = other.leaf("stranger", { san: "email:ci@example.com", issuer: ISSUER })
    expect(problemOf(check(identity(), layer(stranger.pem, other.intermediate.pem)))).toContain(
      "does not chain to the trusted roots"
    )
    // The other CA's whole chain offered as intermediates: still not the operator's root.
    expect(problemOf(check(identity(), layer(stranger.pem, fs.readFileSync(other.chain, "utf8"))))).toContain(
      "does not chain to the trusted roots"
    )
    expect(problemOf(check(identity(), layer(good.pem, null)))).toContain("does not chain to the trusted roots")
    // The intermediate itself trusted: no chain needed.
    expect("signer" in check(identity({ roots: ca.intermediate.pem }), layer(good.pem, null))).toBe(true)
  })

  it("denies a leaf outside its validity period at the time of verification", () => {
    const expired = ca.leaf("expired", {
      san: "email:ci@example.com",
      issuer: ISSUER,
      start: "20200101000000Z",
      end: "20200102000000Z"
    })
    expect(problemOf(check(identity(), layer(expired.pem)))).toMatch(
      /the signing certificate is valid from 2020-01-01T00:00:00.000Z to 2020-01-02T00:00:00.000Z, not at .* \(expired/
    )
    // Valid then: the validity period is the only reason.
    expect("signer" in check(identity(), layer(expired.pem), new Date("2020-01-01T12:00:00Z"))).toBe(true)
  })

  it("denies a leaf without the code-signing EKU, and a layer without a certificate", () => {
    const tls = ca.leaf("tls", { san: "email:ci@example.com", issuer: ISSUER, codeSigning: false })
    expect(problemOf(check(identity(), layer(tls.pem)))).toContain("no code-signing extended key usage")
    expect(problemOf(check(identity(), undefined))).toContain("no certificate")
  })

  it("refuses a regular expression that would escape its anchors", () => {
    // Wrapped as ^(?:…)$ this compiles and matches any SAN; on its own it does not compile.
    expect(() => keylessTrust(byRegExp("nobody@example\\.com)|(.*"))).toThrow(/Invalid regular expression/)
  })

  it("refuses roots that are not certificates, or not CAs", () => {
    expect(() =>
      keylessTrust(identity({ roots: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }))
    ).toThrow()
    expect(() => keylessTrust(identity({ roots: good.pem }))).toThrow(/not a CA/)
  })
})
