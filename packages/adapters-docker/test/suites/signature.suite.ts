/**
 * The signature gate (issue 12), end to end with the sluice CLI on a real Docker engine, the local
 * registry and the real cosign (built from Go modules by scripts/docker/build-cosign.sh): images are
 * pushed, signed with `cosign sign --key` (key pairs from `cosign generate-key-pair`), and rolled out
 * with `spec.gates.signature.publicKey`. Signed by the trusted key → the container runs that digest,
 * and the signer's fingerprint is in the event stream and the journal. Unsigned, signed by another
 * key, or carrying a signature made for another digest → denied naming the digest, nothing touched.
 */
import { createHash, createPublicKey } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { expectDenied, journalEvent, pushImage, REGISTRY, useCliSuite, writeRolloutSpec } from "../support/cli.js"
import { inspect } from "../support/engine.js"
import {
  copySignatures,
  cosignRun,
  cosignVerifies,
  dropSignatures,
  signatureDecision,
  signingReady,
  sigTag
} from "../support/signing.js"

const SUITE = "signature"
const REPO = `${REGISTRY}/sluice/signed-agent`
const NAME = "sg-a0"
const ready = signingReady("the signature-gate suite")

const push = (source: string, tag: string) => pushImage(REPO, source, tag)

describe.skipIf(!ready)("the signature gate (real registry, real cosign)", () => {
  // cosign pushes the signatures through the suite's Docker config, and the CLI's gate reads them through it.
  const suite = useCliSuite({ suite: SUITE, name: NAME, prefix: "sluice-signature-", dockerConfig: true })
  const key = (name: string) => path.join(suite.dir, "keys", name)
  /** `cosign sign --key`: offline (no transparency log), stored in the registry as `sha256-<hex>.sig`. */
  const sign = (keyName: string, digest: string) =>
    cosignRun(
      suite.dockerConfig,
      ["sign", "--key", path.join(key(keyName), "cosign.key"), "--tlog-upload=false", "--yes", `${REPO}@${digest}`],
      suite.dir
    )
  /** `cosign verify` as the reference: whether cosign itself accepts the digest's signature with the key. */
  const cosignAccepts = (keyName: string, digest: string) =>
    cosignVerifies(
      suite.dockerConfig,
      ["--key", path.join(key(keyName), "cosign.pub"), "--insecure-ignore-tlog=true", `${REPO}@${digest}`],
      suite.dir
    )
  const publicKey = (keyName: string) => fs.readFileSync(path.join(key(keyName), "cosign.pub"), "utf8")
  const fingerprint = (keyName: string) =>
    `sha256:${createHash("sha256")
      .update(createPublicKey(publicKey(keyName)).export({ type: "spki", format: "der" }))
      .digest("hex")}`
  const spec = (id: string, tag: string, keyName: string) =>
    writeRolloutSpec({
      dir: suite.dir,
      id,
      name: "signed-agent",
      suite: SUITE,
      image: `${REPO}:${tag}`,
      gates: {
        policy: { enabled: false },
        scan: { enabled: false },
        signature: { enabled: true, publicKey: publicKey(keyName) }
      }
    })
  const journal = (id: string, type: string) => journalEvent(suite.store, id, type)

  beforeAll(() => {
    for (const name of ["trusted", "other"]) {
      fs.mkdirSync(key(name), { recursive: true })
      cosignRun(suite.dockerConfig, ["generate-key-pair"], key(name))
    }
  }, 60_000)

  it("an unsigned image is denied naming its digest; nothing is touched", async () => {
    const digest = await push("sluice-test/agent:v3", "unsigned")
    await dropSignatures(REPO, digest)
    // The denial is journaled with its reason (the audit trail names the digest).
    await expectDenied(suite, {
      name: NAME,
      spec: spec("unsigned", "unsigned", "trusted"),
      id: "sg-unsigned",
      rule: "signature/unsigned",
      digest
    })
  }, 300_000)

  it("an image signed by another key is denied; nothing is touched", async () => {
    const digest = await push("sluice-test/agent:v2", "other-key")
    await dropSignatures(REPO, digest)
    sign("other", digest)
    await expectDenied(suite, {
      name: NAME,
      spec: spec("other-key", "other-key", "trusted"),
      id: "sg-other-key",
      rule: "signature/invalid",
      digest,
      naming: [fingerprint("trusted")]
    })
    // cosign agrees: the signature is good for the other key only.
    expect(cosignAccepts("trusted", digest)).toBe(false)
    expect(cosignAccepts("other", digest)).toBe(true)
  }, 300_000)

  it("a signature made for another digest is denied: the tag moved after signing, or the .sig was copied", async () => {
    const signedDigest = await push("sluice-test/agent:v2", "moved")
    sign("trusted", signedDigest)
    // The tag moves to other bytes after the signing: they have no signature of their own.
    const moved = await push("sluice-test/agent:v4", "moved")
    expect(moved).not.toBe(signedDigest)
    await dropSignatures(REPO, moved)
    await expectDenied(suite, {
      name: NAME,
      spec: spec("moved", "moved", "trusted"),
      id: "sg-moved",
      rule: "signature/unsigned",
      digest: moved
    })

    // The trusted signature of the first image copied under the second image's signature tag (its
    // layers are in the same repository): it verifies against the key, but vouches for other bytes.
    await copySignatures(REPO, signedDigest, moved)
    await expectDenied(suite, {
      name: NAME,
      spec: spec("copied", "moved", "trusted"),
      id: "sg-copied",
      rule: "signature/mismatch",
      digest: moved,
      naming: [signedDigest]
    })
    // cosign agrees: the copied signature does not vouch for the image it now sits beside.
    expect(cosignAccepts("trusted", moved)).toBe(false)
    expect(cosignAccepts("trusted", signedDigest)).toBe(true)
  }, 300_000)

  it("an image signed by the trusted key rolls out by that digest; the signer is in the events and the journal", async () => {
    const digest = await push("sluice-test/agent:v2", "signed")
    sign("trusted", digest)
    const applied = suite.sluice("apply", "-f", spec("signed", "signed", "trusted"), "--id", "sg-signed", "--json")
    expect(applied.status, applied.out).toBe(0)
    expect(cosignAccepts("trusted", digest)).toBe(true)
    const after = await inspect(NAME)
    expect(after.Config.Image).toBe(`${REPO}:signed@${digest}`)

    const verdict = { digest, signer: { kind: "key", fingerprint: fingerprint("trusted") } }
    const decided = signatureDecision(applied.stdout)
    expect(decided, applied.out).toMatchObject({ allow: true, violations: [], signature: verdict })
    expect(decided.signature.source).toBe(`${REPO}:${sigTag(digest)}`)
    expect(journal("sg-signed", "GATES_PASSED").signature).toMatchObject(verdict)
    const header = JSON.parse(fs.readFileSync(path.join(suite.store, "sg-signed", "header.json"), "utf8"))
    expect(header.config.artifactDigest).toMatchObject({ digest, source: "registry" })
    expect(header.config.gates.signature.publicKey).toBe(publicKey("trusted"))
  }, 300_000)
})
