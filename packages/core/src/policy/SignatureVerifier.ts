import { Context, type Effect, Schema } from "effect"

/**
 * The signature gate's trust (`spec.gates.signature`): a signature must verify against a public key
 * (cosign's `sign --key`), or carry a certificate for a keyless identity issued by a CA the operator
 * names (a private Fulcio, or cosign's `sign --certificate --certificate-chain` with an enterprise
 * CA). One or the other, never both: the spec refuses a gate with both rather than guess whether
 * either or both must verify.
 */
export type SignatureTrust = SignatureKeyTrust | SignatureKeylessTrust

export interface SignatureKeyTrust {
  /**
   * A PEM `PUBLIC KEY` block (cosign's `cosign.pub`): ECDSA (`cosign generate-key-pair` makes P-256)
   * or RSA, signatures over SHA-256 as cosign makes them. An Ed25519 key verifies nothing (denied).
   */
  readonly publicKey: string
  readonly keyless?: undefined
}

export interface SignatureKeylessTrust {
  readonly publicKey?: undefined
  readonly keyless: KeylessIdentity
}

/**
 * A certificate identity, as Kyverno's `keyless` attestor and `cosign verify --certificate-identity
 * --certificate-oidc-issuer --ca-roots` name it. There is no transparency log or SCT to check (a
 * private CA has none, and the public Rekor is not reachable): the leaf must be valid at the time
 * of verification, since no trusted timestamp says when it signed.
 */
export interface KeylessIdentity {
  /** The OIDC issuer the leaf must carry (Fulcio's extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1), exactly. */
  readonly issuer: string
  /** The leaf's SAN (an email or a URI), exactly. One of `subject` and `subjectRegExp`. */
  readonly subject?: string
  /** A JavaScript regular expression the whole SAN must match (anchored at both ends). */
  readonly subjectRegExp?: string
  /** PEM `CERTIFICATE` block(s) of the trusted CA(s): the leaf must chain to one of them. */
  readonly roots: string
}

export interface SignatureRequest {
  /** The reference as the spec wrote it (for messages): e.g. `registry.example.com/agents/agent:2.0`. */
  readonly image: string
  /** The registry host (with its port) and the repository path the signatures are looked up in. */
  readonly registry: string
  readonly repository: string
  /** `sha256:<64 hex>`: the manifest digest the rollout deploys; a signature must be made for it. */
  readonly digest: string
  readonly trust: SignatureTrust
}

/** A key signed: its fingerprint (`sha256:` of its DER SubjectPublicKeyInfo, as `cosign.pub` encodes it). */
export const KeySigner = Schema.Struct({
  kind: Schema.Literal("key"),
  fingerprint: Schema.String
})

/**
 * A certificate signed: the identity it was issued to (the OIDC issuer and the SAN that matched the
 * trust) and the leaf's fingerprint (`sha256:` of its DER), which names the one certificate.
 */
export const CertificateSigner = Schema.Struct({
  kind: Schema.Literal("certificate"),
  issuer: Schema.String,
  subject: Schema.String,
  certificate: Schema.String
})

/** Who signed. */
export const Signer = Schema.Union([KeySigner, CertificateSigner])
export type Signer = typeof Signer.Type

/** A verified signature: recorded in the `gateDecided` event and in the journal with the gate's pass. */
export const SignatureVerdict = Schema.Struct({
  /** The artifact digest the signature was verified for. */
  digest: Schema.String,
  signer: Signer,
  /** Where the signature was read, e.g. `localhost:5000/sluice/agent:sha256-<hex>.sig`. */
  source: Schema.String,
  /** The verification scheme, e.g. `cosign simple-signing (key)` or `cosign simple-signing (certificate)`. */
  scheme: Schema.String
})
export type SignatureVerdict = typeof SignatureVerdict.Type

/**
 * Why a signature was not accepted. The gate denies with `signature/<reason>` and this message,
 * which names the digest: `unsigned` (no signature stored for the digest), `unreachable` (the
 * registry could not be read), `mismatch` (a signature made for another digest), `invalid` (no
 * signature verifies against the trusted key, or no certificate chains to the trusted roots and
 * carries the identity), `malformed` (a stored signature, the key or the roots cannot be read).
 */
export class SignatureError extends Schema.TaggedError<SignatureError>()("SignatureError", {
  reason: Schema.Literals(["unsigned", "unreachable", "mismatch", "invalid", "malformed"]),
  digest: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

export interface SignatureVerifierShape {
  /**
   * Verifies that the image at `digest` is signed by the trusted key or identity. Fails with a
   * {@link SignatureError} when it is not (the gate denies: fail closed); never succeeds without
   * a signature that verifies for exactly `digest`.
   */
  readonly verify: (request: SignatureRequest) => Effect.Effect<SignatureVerdict, SignatureError>
}

/**
 * The signature gate's service: `@sluice/policies`' `CosignSignatureVerifier` reads cosign's
 * signatures from the image's registry. A rollout whose spec turns the gate on without one denies.
 */
export class SignatureVerifier extends Context.Service<SignatureVerifier, SignatureVerifierShape>()(
  "@sluice/core/policy/SignatureVerifier"
) {}
