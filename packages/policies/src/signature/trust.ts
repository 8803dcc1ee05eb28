/**
 * What one cosign signature layer must satisfy to be trusted: its signature over the simple-signing
 * payload verifies with the trusted key, or with the key of a certificate the keyless trust accepts
 * (`keyless.ts`). The signature check itself is `@sigstore/verify`'s, on a message-signature bundle.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto"
import type { Bundle } from "@sigstore/bundle"
import { HashAlgorithm } from "@sigstore/protobuf-specs"
import { type TrustMaterial, toSignedEntity, Verifier } from "@sigstore/verify"
import type { SignatureTrust, Signer } from "@sluice/core"
import { checkCertificate, keylessTrust } from "./keyless.js"

const KEY_HINT = "sluice-signature-gate"

/** `sha256:<hex>` of the key's DER SubjectPublicKeyInfo: the signer as the journal names it. */
export const keyFingerprint = (key: KeyObject): string =>
  `sha256:${createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("hex")}`

/** Verifies one simple-signing layer's signature with `@sigstore/verify` against a key. */
export const verifyWithKey = (key: KeyObject, payload: Uint8Array, signature: Uint8Array): string | undefined => {
  const trust: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (hint) => {
      if (hint !== KEY_HINT) throw new Error(`unknown key ${hint}`)
      return { publicKey: key, validFor: () => true }
    }
  }
  const bundle = {
    mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    verificationMaterial: {
      content: { $case: "publicKey", publicKey: { hint: KEY_HINT } },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] }
    },
    content: {
      $case: "messageSignature",
      messageSignature: {
        messageDigest: { algorithm: HashAlgorithm.SHA2_256, digest: createHash("sha256").update(payload).digest() },
        signature: Buffer.from(signature)
      }
    }
  } as unknown as Bundle
  try {
    // Thresholds 0: no log, SCT or timestamp exists to ask for (the key, or the certificate
    // checked by the caller, is the trust).
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(bundle, Buffer.from(payload))
    )
    return undefined
  } catch (e) {
    return e instanceof Error ? e.message : String(e)
  }
}

export interface LayerTrust {
  /** Who must have signed, for messages: `key sha256:…`, or a certificate identity. */
  readonly describe: string
  readonly scheme: string
  /** The signer of a layer whose signature is trusted at `now`, or why it is not. */
  readonly check: (
    annotations: Readonly<Record<string, string>> | undefined,
    payload: Uint8Array,
    signature: Uint8Array,
    now: Date
  ) => { readonly signer: Signer } | { readonly problem: string }
}

/** The trust of a request, ready to check layers; throws when the key or the roots cannot be read. */
export const layerTrust = (trust: SignatureTrust): LayerTrust => {
  if (trust.keyless !== undefined) {
    const keyless = keylessTrust(trust.keyless)
    return {
      describe: `a certificate for ${keyless.describe} from the trusted roots`,
      scheme: "cosign simple-signing (certificate)",
      check: (annotations, payload, signature, now) => {
        const certificate = checkCertificate(keyless, annotations, now)
        if ("problem" in certificate) return certificate
        const why = verifyWithKey(certificate.key, payload, signature)
        return why === undefined ? { signer: certificate.signer } : { problem: `${why} (with the certificate's key)` }
      }
    }
  }
  const key = createPublicKey(trust.publicKey)
  const fingerprint = keyFingerprint(key)
  return {
    describe: `key ${fingerprint}`,
    scheme: "cosign simple-signing (key)",
    check: (_annotations, payload, signature) => {
      const why = verifyWithKey(key, payload, signature)
      return why === undefined ? { signer: { kind: "key", fingerprint } } : { problem: why }
    }
  }
}
