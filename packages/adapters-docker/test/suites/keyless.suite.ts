/**
 * The signature gate's keyless trust (issue 12), end to end with the sluice CLI on a real Docker
 * engine, the local registry and the real cosign: a private CA made with openssl (root,
 * intermediate, Fulcio-shaped leaves), images signed with `cosign sign --key leaf --certificate
 * leaf.pem --certificate-chain chain.pem --tlog-upload=false`, rolled out with
 * `spec.gates.signature.keyless {issuer, subject, roots}`. The right identity → the container runs
 * that digest, the signer (issuer, subject) in the event stream and the journal, the trust given by
 * a `--values` overlay. Another subject or issuer, a leaf of another CA, an expired leaf, a
 * signature made for another digest, a signature by a bare key → denied naming the digest, nothing
 * touched. `cosign verify --certificate-identity --certificate-oidc-issuer --ca-roots` is the
 * reference each verdict is compared with.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { type Issued, makeCa } from "../../../policies/test/signature/pki.js"
import {
  expectDenied as expectDeniedBy,
  journalEvent,
  pushImage,
  REGISTRY,
  useCliSuite,
  writeRolloutSpec
} from "../support/cli.js"
import { inspect, type Json } from "../support/engine.js"
import {
  copySignatures,
  cosignRun,
  cosignVerifies,
  dropSignatures,
  signatureDecision,
  signingReady,
  sigTag
} from "../support/signing.js"

const SUITE = "keyless"
const REPO = `${REGISTRY}/sluice/keyless-agent`
const NAME = "kl-a0"
const ISSUER = "https://token.ci.example.com"
const SUBJECT = "release@example.com"
const ready = signingReady("the keyless signature suite")

describe.skipIf(!ready)("the signature gate's keyless trust (real registry, real cosign, openssl CA)", () => {
  const suite = useCliSuite({ suite: SUITE, name: NAME, prefix: "sluice-keyless-", dockerConfig: true })
  let ca: ReturnType<typeof makeCa>
  let other: ReturnType<typeof makeCa>
  let leaves: Record<"good" | "expired" | "stranger", Issued>

  /** A tag of the repository holding `source`, with no signature of its own yet. */
  const push = async (source: string, tag: string) => {
    const digest = await pushImage(REPO, source, tag)
    await dropSignatures(REPO, digest)
    return digest
  }
  /** cosign signs with the leaf's key (imported into cosign's key format) and attaches leaf and chain. */
  const signWith = (leaf: Issued, chain: string, digest: string) => {
    const prefix = path.join(suite.dir, `cosign-${path.basename(leaf.key, ".key")}`)
    if (!fs.existsSync(`${prefix}.key`)) {
      cosignRun(suite.dockerConfig, ["import-key-pair", "--key", leaf.key, "--output-key-prefix", prefix], suite.dir)
    }
    cosignRun(
      suite.dockerConfig,
      [
        "sign",
        "--key",
        `${prefix}.key`,
        "--certificate",
        leaf.cert,
        "--certificate-chain",
        chain,
        "--tlog-upload=false",
        "--yes",
        `${REPO}@${digest}`
      ],
      suite.dir
    )
  }
  /** What cosign itself says of the digest for an identity and the trusted root (no log, no SCT here). */
  const cosignAccepts = (digest: string, identity = { issuer: ISSUER, subject: SUBJECT }) =>
    cosignVerifies(
      suite.dockerConfig,
      [
        "--certificate-identity",
        identity.subject,
        "--certificate-oidc-issuer",
        identity.issuer,
        "--ca-roots",
        ca.root.cert,
        "--insecure-ignore-tlog=true",
        "--insecure-ignore-sct=true",
        `${REPO}@${digest}`
      ],
      suite.dir
    )
  const keyless = (over: { issuer?: string; subject?: string } = {}) => ({
    issuer: over.issuer ?? ISSUER,
    subject: over.subject ?? SUBJECT,
    roots: ca.root.pem
  })
  const spec = (id: string, tag: string, signature?: Json) =>
    writeRolloutSpec({
      dir: suite.dir,
      id,
      name: "keyless-agent",
      suite: SUITE,
      image: `${REPO}:${tag}`,
      gates: { policy: { enabled: false }, scan: { enabled: false }, ...(signature === undefined ? {} : { signature }) }
    })
  /** Applies and expects a denial by the signature gate naming the digest; nothing touched, the denial journaled. */
  const expectDenied = (id: string, tag: string, digest: string, signature: Json, rule: string) =>
    expectDeniedBy(suite, { name: NAME, spec: spec(id, tag, signature), id, rule, digest })

  beforeAll(() => {
    ca = makeCa(path.join(suite.dir, "ca"), "Sluice Test")
    other = makeCa(path.join(suite.dir, "other-ca"), "Other")
    leaves = {
      good: ca.leaf("good", { san: `email:${SUBJECT}`, issuer: ISSUER }),
      expired: ca.leaf("expired", {
        san: `email:${SUBJECT}`,
        issuer: ISSUER,
        start: "20200101000000Z",
        end: "20200102000000Z"
      }),
      stranger: other.leaf("stranger", { san: `email:${SUBJECT}`, issuer: ISSUER })
    }
  }, 60_000)

  it("a certificate for another subject or another issuer is denied, naming what it carries", async () => {
    const digest = await push("sluice-test/agent:v3", "identity")
    signWith(leaves.good, ca.chain, digest)
    const subject = await expectDenied(
      "kl-subject",
      "identity",
      digest,
      { enabled: true, keyless: keyless({ subject: "ops@example.com" }) },
      "signature/invalid"
    )
    expect(subject).toContain(`issued to "${SUBJECT}", not to "ops@example.com"`)
    const issuer = await expectDenied(
      "kl-issuer",
      "identity",
      digest,
      { enabled: true, keyless: keyless({ issuer: "https://accounts.example.com" }) },
      "signature/invalid"
    )
    expect(issuer).toContain(`OIDC issuer "${ISSUER}"`)
    // cosign agrees: the signature is good for the certificate's own identity only.
    expect(cosignAccepts(digest, { issuer: ISSUER, subject: "ops@example.com" })).toBe(false)
    expect(cosignAccepts(digest, { issuer: "https://accounts.example.com", subject: SUBJECT })).toBe(false)
    expect(cosignAccepts(digest)).toBe(true)
  }, 300_000)

  it("a certificate of another CA, with the same identity, is denied", async () => {
    const digest = await push("sluice-test/agent:v4", "stranger")
    signWith(leaves.stranger, other.chain, digest)
    const message = await expectDenied(
      "kl-stranger",
      "stranger",
      digest,
      { enabled: true, keyless: keyless() },
      "signature/invalid"
    )
    expect(message).toContain("does not chain to the trusted roots")
    expect(cosignAccepts(digest)).toBe(false)
  }, 300_000)

  it("an expired certificate is denied: no trusted timestamp says it signed while valid", async () => {
    const digest = await push("sluice-test/agent:v3", "expired")
    // cosign checks the chain at the certificate's start, so it signs with a leaf expired since 2020.
    signWith(leaves.expired, ca.chain, digest)
    const message = await expectDenied(
      "kl-expired",
      "expired",
      digest,
      { enabled: true, keyless: keyless() },
      "signature/invalid"
    )
    expect(message).toMatch(/valid from 2020-01-01T00:00:00\.000Z to 2020-01-02T00:00:00\.000Z, not at .*expired/)
  }, 300_000)

  it("a signature by a bare key, where only a certificate identity is trusted, is denied", async () => {
    const digest = await push("sluice-test/agent:v4", "bare-key")
    const keys = path.join(suite.dir, "bare")
    fs.mkdirSync(keys, { recursive: true })
    cosignRun(suite.dockerConfig, ["generate-key-pair"], keys)
    cosignRun(
      suite.dockerConfig,
      ["sign", "--key", path.join(keys, "cosign.key"), "--tlog-upload=false", "--yes", `${REPO}@${digest}`],
      suite.dir
    )
    const message = await expectDenied(
      "kl-bare-key",
      "bare-key",
      digest,
      { enabled: true, keyless: keyless() },
      "signature/invalid"
    )
    expect(message).toContain("no certificate")
    expect(cosignAccepts(digest)).toBe(false)
  }, 300_000)

  it("a trusted certificate's signature made for another digest is denied, naming both", async () => {
    const signed = await push("sluice-test/agent:v2", "copied-from")
    signWith(leaves.good, ca.chain, signed)
    const target = await push("sluice-test/agent:v4", "copied")
    await copySignatures(REPO, signed, target)
    const message = await expectDenied(
      "kl-copied",
      "copied",
      target,
      { enabled: true, keyless: keyless() },
      "signature/mismatch"
    )
    expect(message).toContain(signed)
    expect(message).toContain(`${SUBJECT} (OIDC issuer ${ISSUER})`)
    expect(cosignAccepts(target)).toBe(false)
    expect(cosignAccepts(signed)).toBe(true)
  }, 300_000)

  it("the trusted identity rolls out by the digest; issuer and subject in the events and the journal", async () => {
    const digest = await push("sluice-test/agent:v2", "signed")
    signWith(leaves.good, ca.chain, digest)
    // The trust from an operator's values overlay, as the key's can be: the spec itself names none.
    const values = path.join(suite.dir, "signing.json")
    fs.writeFileSync(values, JSON.stringify({ spec: { gates: { signature: { enabled: true, keyless: keyless() } } } }))
    const applied = suite.sluice(
      "apply",
      "-f",
      spec("kl-signed", "signed"),
      "--values",
      values,
      "--id",
      "kl-signed",
      "--json"
    )
    expect(applied.status, applied.out).toBe(0)
    expect(cosignAccepts(digest)).toBe(true)
    expect((await inspect(NAME)).Config.Image).toBe(`${REPO}:signed@${digest}`)

    const verdict = {
      digest,
      signer: { kind: "certificate", issuer: ISSUER, subject: SUBJECT },
      source: `${REPO}:${sigTag(digest)}`,
      scheme: "cosign simple-signing (certificate)"
    }
    const decided = signatureDecision(applied.stdout)
    expect(decided, applied.out).toMatchObject({ allow: true, violations: [], signature: verdict })
    expect(decided.signature.signer.certificate).toMatch(/^sha256:[a-f0-9]{64}$/)
    expect(journalEvent(suite.store, "kl-signed", "GATES_PASSED").signature).toEqual(decided.signature)
    const header = JSON.parse(fs.readFileSync(path.join(suite.store, "kl-signed", "header.json"), "utf8"))
    expect(header.config.gates.signature).toEqual({ keyless: keyless() })
  }, 300_000)
})
